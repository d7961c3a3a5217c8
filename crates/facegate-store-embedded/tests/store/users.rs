//! Users: insertion, lookup, their verified face and deletion with everything of theirs.

conformance!(
    users: users_are_stored_and_looked_up,
    a_stored_face_marks_the_user_verified,
    deleting_a_user_removes_everything_of_theirs,
);

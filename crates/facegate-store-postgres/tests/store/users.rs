//! Users, their faces and refresh tokens, and deletion with everything of theirs.

use facegate_core::conformance::fixtures::{DIM, MODEL, add_user, unit, user_face};
use facegate_core::ports::UserStore;

use crate::support::open_store;

/// A user's face is a pgvector value of its dimension, like the references'.
#[tokio::test]
async fn a_user_face_is_stored_as_a_vector() {
    let Some((db, store)) = open_store("user-face-vector").await else {
        return;
    };
    add_user(&store, "u1", 0).await;
    store
        .set_user_face(&user_face("u1", unit(MODEL, DIM, 1), 10))
        .await
        .unwrap();
    let (dim, vector_dims): (i32, i32) =
        sqlx::query_as("SELECT dim, vector_dims(embedding) FROM user_faces")
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!((dim, vector_dims), (512, 512));
}

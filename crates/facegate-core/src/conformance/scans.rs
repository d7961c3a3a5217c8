//! Scans: storing, completing and the leaderboard of best scores.

use super::fixtures::{add_user, scan, scored};
use crate::account::JobState;
use crate::ports::{ScanStore, UserStore};
use crate::scans::{LeaderboardEntry, ScanResult, ScanStatus};

fn entry(rank: usize, username: &str, best_score: f32, scans: usize) -> LeaderboardEntry {
    LeaderboardEntry {
        rank,
        username: username.to_owned(),
        best_score,
        scans,
    }
}

pub async fn a_scan_is_stored_and_completed<S: UserStore + ScanStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    let queued = scan("s1", "u1", 100);
    store.insert_scan(&queued).await.unwrap();
    assert_eq!(store.scan("s1").await.unwrap(), Some(queued.clone()));
    assert!(store.scan("missing").await.unwrap().is_none());
    // A scan needs its user.
    assert!(store.insert_scan(&scan("s2", "nobody", 0)).await.is_err());

    store.complete_scan("s1", &scored(87.5), 200).await.unwrap();
    let done = store.scan("s1").await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(scored(87.5)));
    assert_eq!(done.completed_at, Some(200));
    assert_eq!(
        (done.id, done.photo_key, done.created_at),
        (queued.id, queued.photo_key, 100)
    );
}

/// Users by their best score, best first, counting their scored scans only; ties go to
/// whoever reached that score first; scans without a score are left out.
pub async fn the_leaderboard_ranks_users_by_their_best_score<S: UserStore + ScanStore + ?Sized>(
    store: &S,
) {
    assert!(store.leaderboard(10).await.unwrap().is_empty());
    for id in ["u1", "u2", "u3", "u4", "u5"] {
        add_user(store, id, 0).await;
    }
    let rejected = ScanResult {
        status: ScanStatus::Rejected,
        reason: Some("face_not_found".to_owned()),
        symmetry: None,
        face: None,
    };
    // (scan, user, score or rejected, completed at); u5's scan stays queued.
    let scans: [(&str, &str, Option<f32>, i64); 8] = [
        ("a", "u1", Some(70.0), 10),
        ("b", "u1", Some(90.0), 20),
        ("c", "u2", Some(80.0), 30),
        ("d", "u3", Some(90.0), 5),
        ("e", "u3", None, 40),
        ("f", "u4", None, 50),
        ("g", "u2", Some(60.0), 60),
        ("h", "u2", Some(75.5), 70),
    ];
    for (id, user_id, score, at) in scans {
        store.insert_scan(&scan(id, user_id, 0)).await.unwrap();
        let result = score.map_or_else(|| rejected.clone(), scored);
        store.complete_scan(id, &result, at).await.unwrap();
    }
    store.insert_scan(&scan("q", "u5", 0)).await.unwrap();

    assert_eq!(
        store.leaderboard(10).await.unwrap(),
        [
            // u1 and u3 both reached 90; u3 had a score first.
            entry(1, "name-u3", 90.0, 1),
            entry(2, "name-u1", 90.0, 2),
            entry(3, "name-u2", 80.0, 3),
        ]
    );
    assert_eq!(
        store.leaderboard(1).await.unwrap(),
        [entry(1, "name-u3", 90.0, 1)]
    );
    assert!(store.leaderboard(0).await.unwrap().is_empty());
}

/// Of two users with the same best score, the one who reached it first ranks first, even
/// when the other had a (lower) score before.
pub async fn leaderboard_ties_go_to_whoever_reached_the_score_first<
    S: UserStore + ScanStore + ?Sized,
>(
    store: &S,
) {
    for id in ["early", "late"] {
        add_user(store, id, 0).await;
    }
    // (scan, user, score, completed at)
    for (id, user_id, score, at) in [
        ("a", "early", 50.0, 1),
        ("b", "late", 90.0, 5),
        ("c", "early", 90.0, 10),
    ] {
        store.insert_scan(&scan(id, user_id, 0)).await.unwrap();
        store.complete_scan(id, &scored(score), at).await.unwrap();
    }
    assert_eq!(
        store.leaderboard(10).await.unwrap(),
        [
            entry(1, "name-late", 90.0, 1),
            entry(2, "name-early", 90.0, 2)
        ]
    );
}

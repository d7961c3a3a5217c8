//! FacePass's answer fields, beside facegate's own in the same answers: none of them has a
//! facegate field's name, so a FacePass client finds what it reads and facegate's clients
//! are not disturbed. FacePass's requests are facegate's already (`POST /index`,
//! `/index/batch` with `s3_key`, `/search`, `GET /search/status/{id}`).

use facegate_core::model::{IndexedFace, SessionStatus};
use facegate_core::service::{BatchItem, Search};
use facegate_core::time::rfc3339;
use serde_json::{Value, json};

/// An index answer's `indexed`, `faces_detected` and `confidence` (the best face's
/// detection score; `null` without a face).
pub fn index(body: &mut Value, faces: &[IndexedFace]) {
    body["indexed"] = json!(true);
    body["faces_detected"] = json!(faces.len());
    body["confidence"] = json!(faces.iter().map(|f| f.detection_score).reduce(f32::max));
}

/// A batch answer's `total` and `errors` (`"photo_id: message"` per failed photo).
pub fn batch(body: &mut Value, items: &[BatchItem]) {
    let errors: Vec<String> = items
        .iter()
        .filter_map(|i| Some(format!("{}: {}", i.photo_id, i.error.as_ref()?.message)))
        .collect();
    body["total"] = json!(items.len());
    body["errors"] = json!(errors);
}

/// A search answer whose matches carry `confidence` (the detection score) too.
pub fn search(search: &Search) -> Value {
    let mut body = json!(search);
    if let Some(matches) = body["matches"].as_array_mut() {
        for m in matches {
            m["confidence"] = m["detection_confidence"].clone();
        }
    }
    body
}

/// A session status with `indexed`, `photo_count` and `last_indexed` too.
pub fn status(status: &SessionStatus) -> Value {
    let mut body = json!(status);
    body["indexed"] = json!(status.indexed_photos > 0);
    body["photo_count"] = json!(status.indexed_photos);
    body["last_indexed"] = json!(status.last_indexed_at.map(rfc3339));
    body
}

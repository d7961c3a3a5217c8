//! The JSON messages of the verification topics, and the parsing of requests.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// Verification requests: [`VerificationRequest`], keyed by request id.
pub const REQUESTS_TOPIC: &str = "facegate.verification.requests";
/// Verification results: [`VerificationResultMessage`], keyed by request id.
pub const RESULTS_TOPIC: &str = "facegate.verification.results";
/// Messages that could not be parsed or kept failing: [`DlqMessage`].
pub const DLQ_TOPIC: &str = "facegate.dlq";

/// Where the image of a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A file on the volume shared with the producer (`image_path`).
    Path(String),
    /// An object in the blob store (`image_key`).
    Key(String),
}

/// A verification request, checked: every required field present and non-blank, and
/// exactly one image reference.
///
/// On the wire: `{"request_id"?, "username", "image_path" | "image_key", "callback_url"?}`.
/// Unknown fields are ignored, so producers may add fields before workers know them.
/// `path` is read as `image_path`, and a message without `request_id` is named by the
/// consumer, so the async verification service's `{"username", "path"}` works as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRequest {
    pub request_id: String,
    pub username: String,
    pub image: ImageRef,
    pub callback_url: Option<String>,
}

/// Why a request payload was refused. The message names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestParseError {
    #[error("the payload is not a JSON request object: {0}")]
    InvalidJson(String),
    #[error("the field {0} is missing")]
    MissingField(&'static str),
    #[error("the field {0} is empty")]
    EmptyField(&'static str),
    #[error("neither image_path nor image_key is given: exactly one is required")]
    NoImage,
    #[error("both image_path and image_key are given: exactly one is allowed")]
    BothImages,
}

/// The request as it travels; every field optional so that a missing one gets its own
/// error instead of serde's.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WireRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "path")]
    image_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback_url: Option<String>,
}

fn required(value: Option<String>, field: &'static str) -> Result<String, RequestParseError> {
    match value {
        None => Err(RequestParseError::MissingField(field)),
        Some(value) if value.trim().is_empty() => Err(RequestParseError::EmptyField(field)),
        Some(value) => Ok(value),
    }
}

fn optional(
    value: Option<String>,
    field: &'static str,
) -> Result<Option<String>, RequestParseError> {
    value.map(|value| required(Some(value), field)).transpose()
}

impl VerificationRequest {
    /// Parses and checks a request payload; `default_id` names a request without
    /// `request_id` (the consumer passes the message key, else its topic, partition and
    /// offset, so a redelivered message keeps its name).
    pub fn parse(payload: &[u8], default_id: Option<String>) -> Result<Self, RequestParseError> {
        let wire: WireRequest = serde_json::from_slice(payload)
            .map_err(|e| RequestParseError::InvalidJson(e.to_string()))?;
        let request_id = required(wire.request_id.or(default_id), "request_id")?;
        let username = required(wire.username, "username")?;
        let image_path = optional(wire.image_path, "image_path")?;
        let image_key = optional(wire.image_key, "image_key")?;
        let image = match (image_path, image_key) {
            (Some(path), None) => ImageRef::Path(path),
            (None, Some(key)) => ImageRef::Key(key),
            (None, None) => return Err(RequestParseError::NoImage),
            (Some(_), Some(_)) => return Err(RequestParseError::BothImages),
        };
        let callback_url = optional(wire.callback_url, "callback_url")?;
        Ok(Self {
            request_id,
            username,
            image,
            callback_url,
        })
    }

    /// The JSON payload of this request, as [`Self::parse`] reads it.
    pub fn to_json(&self) -> Vec<u8> {
        let (image_path, image_key) = match &self.image {
            ImageRef::Path(path) => (Some(path.clone()), None),
            ImageRef::Key(key) => (None, Some(key.clone())),
        };
        let wire = WireRequest {
            request_id: Some(self.request_id.clone()),
            username: Some(self.username.clone()),
            image_path,
            image_key,
            callback_url: self.callback_url.clone(),
        };
        serde_json::to_vec(&wire).expect("a struct of strings always serializes")
    }
}

/// The outcome of one request, published on the results topic with the request id as
/// key. A plain record: the worker fills it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationResultMessage {
    pub request_id: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `verified`, `rejected` or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Unix time in milliseconds.
    pub finished_at: i64,
}

impl VerificationResultMessage {
    /// A request that failed before anything was decided about a face (an unknown user,
    /// say): `failed` with `reason`, no user id, no scores, no model.
    #[must_use]
    pub fn failed(request_id: &str, username: &str, reason: &str, finished_at: i64) -> Self {
        Self {
            request_id: request_id.to_owned(),
            username: username.to_owned(),
            user_id: None,
            status: "failed".to_owned(),
            reason: Some(reason.to_owned()),
            similarity: None,
            quality: None,
            liveness: None,
            model: None,
            finished_at,
        }
    }
}

/// How [`DlqMessage::payload`] holds the original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// The bytes were valid UTF-8 and are the string itself (the usual case: JSON).
    Utf8,
    /// The bytes were not UTF-8: standard base64 with padding.
    Base64,
}

/// A message that could not be processed, with where it came from and why, published on
/// the dead-letter topic with the original key. The payload is kept exactly: as text when
/// it is UTF-8, else base64 (`payload_encoding` says which), so it can be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The original key, lossy UTF-8 (keys are request ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub payload: String,
    pub payload_encoding: PayloadEncoding,
    /// Why it failed: the parse error, or the handler's last error.
    pub error: String,
    /// How many times the handler ran; 0 when the payload could not be parsed.
    pub attempts: u32,
    /// Unix time in milliseconds.
    pub failed_at: i64,
}

impl DlqMessage {
    /// A dead letter for the message at `topic`/`partition`/`offset`.
    pub fn new(
        origin: (&str, i32, i64),
        key: Option<&[u8]>,
        payload: &[u8],
        error: String,
        attempts: u32,
        failed_at: i64,
    ) -> Self {
        let (topic, partition, offset) = origin;
        let (payload, payload_encoding) = match std::str::from_utf8(payload) {
            Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
            Err(_) => (BASE64.encode(payload), PayloadEncoding::Base64),
        };
        Self {
            topic: topic.to_owned(),
            partition,
            offset,
            key: key.map(|key| String::from_utf8_lossy(key).into_owned()),
            payload,
            payload_encoding,
            error,
            attempts,
            failed_at,
        }
    }

    /// The original payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match self.payload_encoding {
            PayloadEncoding::Utf8 => Ok(self.payload.clone().into_bytes()),
            PayloadEncoding::Base64 => BASE64.decode(&self.payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<VerificationRequest, RequestParseError> {
        VerificationRequest::parse(json.as_bytes(), None)
    }

    #[test]
    fn the_async_verification_services_message_parses_as_sent() {
        let payload = br#"{"username": "ann", "path": "/shared/uploads/ann.jpg"}"#;
        let request = VerificationRequest::parse(payload, Some("uploads-0-41".into())).unwrap();
        assert_eq!(request.request_id, "uploads-0-41");
        assert_eq!(request.username, "ann");
        assert_eq!(
            request.image,
            ImageRef::Path("/shared/uploads/ann.jpg".into())
        );
        // A request id in the message wins over the consumer's name for it.
        let named = br#"{"request_id": "r9", "username": "ann", "path": "/a.jpg"}"#;
        let request = VerificationRequest::parse(named, Some("uploads-0-42".into())).unwrap();
        assert_eq!(request.request_id, "r9");
        assert_eq!(
            VerificationRequest::parse(br#"{"username": "ann", "path": "/a.jpg"}"#, None),
            Err(RequestParseError::MissingField("request_id"))
        );
    }

    #[test]
    fn a_request_with_a_path_or_a_key_parses() {
        let request =
            parse(r#"{"request_id": "r1", "username": "ann", "image_path": "/in/a.jpg"}"#).unwrap();
        assert_eq!(
            request,
            VerificationRequest {
                request_id: "r1".into(),
                username: "ann".into(),
                image: ImageRef::Path("/in/a.jpg".into()),
                callback_url: None,
            }
        );
        let request = parse(
            r#"{"request_id": "r2", "username": "bob", "image_key": "uploads/b.jpg",
                "image_path": null, "callback_url": "https://x/cb", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(request.image, ImageRef::Key("uploads/b.jpg".into()));
        assert_eq!(request.callback_url.as_deref(), Some("https://x/cb"));
    }

    #[test]
    fn a_request_survives_the_round_trip() {
        for image in [ImageRef::Path("/a".into()), ImageRef::Key("k/b".into())] {
            let request = VerificationRequest {
                request_id: "r".into(),
                username: "u".into(),
                image,
                callback_url: Some("http://cb".into()),
            };
            assert_eq!(
                VerificationRequest::parse(&request.to_json(), None).unwrap(),
                request
            );
        }
    }

    #[test]
    fn invalid_requests_say_what_is_wrong() {
        use RequestParseError as E;
        let cases: [(&str, E); 9] = [
            (
                r#"{"username": "u", "image_key": "k"}"#,
                E::MissingField("request_id"),
            ),
            (
                r#"{"request_id": "r", "image_key": "k"}"#,
                E::MissingField("username"),
            ),
            (
                r#"{"request_id": "", "username": "u", "image_key": "k"}"#,
                E::EmptyField("request_id"),
            ),
            (
                r#"{"request_id": "r", "username": "  ", "image_key": "k"}"#,
                E::EmptyField("username"),
            ),
            (r#"{"request_id": "r", "username": "u"}"#, E::NoImage),
            (
                r#"{"request_id": "r", "username": "u", "image_key": null}"#,
                E::NoImage,
            ),
            (
                r#"{"request_id": "r", "username": "u", "image_key": "k", "image_path": "/p"}"#,
                E::BothImages,
            ),
            (
                r#"{"request_id": "r", "username": "u", "image_path": ""}"#,
                E::EmptyField("image_path"),
            ),
            (
                r#"{"request_id": "r", "username": "u", "image_key": "k", "callback_url": ""}"#,
                E::EmptyField("callback_url"),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).unwrap_err(), expected, "{json}");
        }
    }

    #[test]
    fn malformed_payloads_are_invalid_json() {
        for payload in [
            &b"not json"[..],
            b"",
            b"[1, 2]",
            b"\"text\"",
            br#"{"request_id": 7, "username": "u", "image_key": "k"}"#,
            b"\xff\xfe{}",
        ] {
            let error = VerificationRequest::parse(payload, None).unwrap_err();
            assert!(
                matches!(error, RequestParseError::InvalidJson(_)),
                "{error:?}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with("the payload is not a JSON request object")
            );
        }
    }

    #[test]
    fn results_leave_out_what_is_unknown() {
        let result = VerificationResultMessage {
            quality: Some(0.5),
            ..VerificationResultMessage::failed("r", "u", "face_not_found", 1_700_000_000_000)
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"request_id": "r", "username": "u", "status": "failed",
                "reason": "face_not_found", "quality": 0.5, "finished_at": 1_700_000_000_000_i64})
        );
        let back: VerificationResultMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }

    #[test]
    fn dead_letters_keep_the_payload_exactly() {
        let text = DlqMessage::new(("t", 2, 9), Some(b"r1"), b"{\"a\":1}", "bad".into(), 1, 5);
        assert_eq!(text.payload, "{\"a\":1}");
        assert_eq!(text.payload_encoding, PayloadEncoding::Utf8);
        assert_eq!(text.key.as_deref(), Some("r1"));
        assert_eq!(text.payload_bytes().unwrap(), b"{\"a\":1}");

        let binary = DlqMessage::new(("t", 0, 1), None, b"\xff\x00\x80", "bad".into(), 0, 5);
        assert_eq!(binary.payload_encoding, PayloadEncoding::Base64);
        assert_eq!(binary.payload, "/wCA");
        assert_eq!(binary.payload_bytes().unwrap(), b"\xff\x00\x80");

        let json = serde_json::to_value(&binary).unwrap();
        assert_eq!(json["payload_encoding"], "base64");
        assert!(json.get("key").is_none());
        assert_eq!(serde_json::from_value::<DlqMessage>(json).unwrap(), binary);
    }
}

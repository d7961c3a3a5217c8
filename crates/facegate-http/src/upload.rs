//! One extractor for uploads: `multipart/form-data` or JSON with base64 images.

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use base64::Engine as _;

use crate::error::ApiError;

/// Field names that carry an image.
const IMAGE_FIELDS: [&str; 7] = [
    "file", "image", "selfie", "image_a", "image_b", "file_a", "file_b",
];

/// The repeated field of a sequence of images (the frames of a liveness challenge).
const FRAMES_FIELD: &str = "frames";

/// Text fields and images of a request, whatever its encoding.
#[derive(Debug, Default)]
pub struct Upload {
    fields: HashMap<String, String>,
    images: HashMap<String, Vec<u8>>,
    /// Every `frames` image, in the order sent.
    frames: Vec<Vec<u8>>,
}

impl Upload {
    /// The images of the repeated `frames` field (a JSON array of base64), in order.
    pub fn take_frames(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.frames)
    }

    /// The image in `name`, required.
    pub fn image(&mut self, name: &str) -> Result<Vec<u8>, ApiError> {
        self.images
            .remove(name)
            .ok_or_else(|| ApiError::validation(format!("the image field `{name}` is required")))
    }

    /// The image in `name`, if sent.
    pub fn take_image(&mut self, name: &str) -> Option<Vec<u8>> {
        self.images.remove(name)
    }

    /// A required text field.
    pub fn text(&self, name: &str) -> Result<&str, ApiError> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::validation(format!("the field `{name}` is required")))
    }

    pub fn opt_text(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An optional field parsed as `T`.
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.opt_text(name)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    ApiError::validation(format!("the field `{name}` has an invalid value `{v}`"))
                })
            })
            .transpose()
    }
}

fn decode_base64(name: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    // Accept data URLs ("data:image/jpeg;base64,...") as well as bare base64.
    let data = value.split_once(";base64,").map_or(value, |(_, d)| d);
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::validation(format!("the field `{name}` is not valid base64: {e}")))
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut upload = Upload::default();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::rejection(e.status(), e.body_text()))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| ApiError::rejection(e.status(), e.body_text()))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let is_file = field.file_name().is_some() || IMAGE_FIELDS.contains(&name.as_str());
                // The body limit is usually reached here, inside the image's bytes.
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::rejection(e.status(), e.body_text()))?;
                if name == FRAMES_FIELD {
                    upload.frames.push(bytes.to_vec());
                } else if is_file {
                    upload.images.insert(name, bytes.to_vec());
                } else {
                    upload
                        .fields
                        .insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        } else if content_type.starts_with("application/json") {
            let axum::Json(body): axum::Json<serde_json::Map<String, serde_json::Value>> =
                axum::Json::from_request(req, state)
                    .await
                    .map_err(|e| ApiError::rejection(e.status(), e.body_text()))?;
            for (name, value) in body {
                match value {
                    serde_json::Value::String(s) if IMAGE_FIELDS.contains(&name.as_str()) => {
                        let bytes = decode_base64(&name, &s)?;
                        upload.images.insert(name, bytes);
                    }
                    serde_json::Value::String(s) => {
                        upload.fields.insert(name, s);
                    }
                    serde_json::Value::Array(frames) if name == FRAMES_FIELD => {
                        for frame in frames {
                            let text = frame.as_str().ok_or_else(|| {
                                ApiError::validation("`frames` must be base64 strings")
                            })?;
                            upload.frames.push(decode_base64(&name, text)?);
                        }
                    }
                    serde_json::Value::Null => {}
                    other => {
                        upload.fields.insert(name, other.to_string());
                    }
                }
            }
        } else {
            return Err(ApiError::validation(
                "send multipart/form-data or application/json (images as base64)",
            ));
        }
        Ok(upload)
    }
}

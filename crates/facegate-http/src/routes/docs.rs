//! The OpenAPI document and a docs page that works offline.

use axum::Json;
use axum::response::Html;
use utoipa::OpenApi;

use super::{collections, faces, health, references};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "facegate", description = "Self-hosted face verification and recognition. \
Every error is `{\"error\": {\"code\", \"type\", \"message\", \"request_id\"}}` with a stable code."),
    paths(
        health::health, health::live, health::ready, health::detailed,
        faces::detect, faces::embed, faces::verify, faces::liveness, faces::analyze,
        references::enroll, references::get_reference, references::delete_reference,
        references::list_subjects, references::get_subject, references::delete_subject,
        references::identify,
        collections::index, collections::index_batch, collections::delete_session,
        collections::search, collections::status,
    ),
    components(schemas(
        faces::ImageForm, faces::VerifyForm, references::EnrollForm, references::IdentifyForm,
        collections::IndexForm, collections::SearchForm, collections::BatchForm,
        collections::BatchPhotoForm,
    )),
    tags(
        (name = "health", description = "Probes and instance details"),
        (name = "faces", description = "Stateless face operations"),
        (name = "enrollment", description = "References, subjects and 1:N identification"),
        (name = "collections", description = "Photo collections searched by selfie"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3 document, generated from the handlers.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A self-contained page that renders `/openapi.json`: no CDN, works offline.
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// The OpenAPI document as committed in `docs/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document must match the code: regenerate it with
    /// `facegate openapi > docs/openapi.json` after changing a route.
    #[test]
    fn committed_openapi_document_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == openapi_json(),
            "docs/openapi.json is stale: run `facegate openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn every_route_is_documented() {
        let doc = ApiDoc::openapi();
        for path in [
            "/api/v1/verify",
            "/api/v1/identify",
            "/api/v1/index/batch",
            "/api/v1/search/status/{session_id}",
            "/health/ready",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} is missing");
        }
    }
}

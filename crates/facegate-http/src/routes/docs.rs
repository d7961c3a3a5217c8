//! The OpenAPI document and a docs page that works offline.

use axum::Json;
use axum::response::Html;
use utoipa::OpenApi;

use super::{
    accounts, admin, collections, faces, health, liveness_sessions, references, scans,
    transactions, webhooks,
};

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
        accounts::register, accounts::token, accounts::logout, accounts::check, accounts::me,
        accounts::forget_me, accounts::verify, accounts::job,
        transactions::create, transactions::report,
        scans::create, scans::get, scans::leaderboard,
        liveness_sessions::create, liveness_sessions::answer, liveness_sessions::get,
        webhooks::create, webhooks::list, webhooks::delete, webhooks::deliveries,
        admin::create_key, admin::list_keys, admin::revoke_key, admin::list_users,
        admin::create_user, admin::delete_user, admin::stats, admin::audit,
    ),
    components(schemas(
        faces::ImageForm, faces::VerifyForm, references::EnrollForm, references::IdentifyForm,
        collections::IndexForm, collections::SearchForm, collections::BatchForm,
        collections::BatchPhotoForm, accounts::RegisterForm, accounts::TokenForm,
        accounts::LogoutForm, accounts::SelfieForm, transactions::TransactionForm,
        transactions::ReportForm, admin::ApiKeyForm, admin::UserForm, webhooks::WebhookForm,
    )),
    modifiers(&SecuritySchemes),
    security(("api_key" = []), ("bearer" = [])),
    tags(
        (name = "health", description = "Probes and instance details"),
        (name = "faces", description = "Stateless face operations"),
        (name = "enrollment", description = "References, subjects and 1:N identification"),
        (name = "collections", description = "Photo collections searched by selfie"),
        (name = "accounts", description = "Registration, tokens, face verification of users"),
        (name = "transactions", description = "Face-gated transactions"),
        (name = "scans", description = "Facial symmetry scans and the leaderboard"),
        (name = "liveness", description = "Liveness sessions: a drawn challenge of head movements"),
        (name = "webhooks", description = "Signed notifications when a result is ready"),
        (name = "admin", description = "API keys, users, statistics, audit log"),
    )
)]
pub struct ApiDoc;

/// The two ways to authenticate: `X-API-Key` (scoped keys) and bearer JWTs (users).
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

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
            "/api/v1/auth/token",
            "/api/v1/transactions/report",
            "/api/v1/admin/stats",
            "/api/v1/webhooks/{id}/deliveries",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} is missing");
        }
    }
}

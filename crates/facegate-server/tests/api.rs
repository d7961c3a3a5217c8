//! The HTTP API end to end: each test builds the real app with `app::build` on a fresh
//! data folder, serves it on `127.0.0.1:0` and talks to it over HTTP with real LFW
//! photos. Skips when the models or datasets are missing, unless
//! `FACEGATE_REQUIRE_MODELS=1`.

#[path = "api/accounts.rs"]
mod accounts;
#[path = "api/capture_page.rs"]
mod capture_page;
#[path = "api/collections.rs"]
mod collections;
#[path = "api/compat_facepass.rs"]
mod compat_facepass;
#[path = "api/compat_gateway.rs"]
mod compat_gateway;
#[path = "api/compat_recognition.rs"]
mod compat_recognition;
#[path = "api/enrollment.rs"]
mod enrollment;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/group_photos.rs"]
mod group_photos;
#[path = "api/hardening.rs"]
mod hardening;
#[path = "api/health.rs"]
mod health;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/liveness.rs"]
mod liveness;
#[path = "api/liveness_sessions.rs"]
mod liveness_sessions;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/persistence.rs"]
mod persistence;
#[path = "api/scans.rs"]
mod scans;
#[path = "api/security.rs"]
mod security;
#[path = "common/services.rs"]
mod services;
#[path = "api/webhooks.rs"]
mod webhooks;

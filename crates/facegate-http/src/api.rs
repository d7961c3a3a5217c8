//! The `/api/v1` route table: each route behind its [`Gate`], so every endpoint declares
//! what it needs from its caller and which rate limit counts it.

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};
use facegate_core::account::Scope;

use crate::access::{self, Gate, Limit, LimitBy, Need};
use crate::routes::{
    accounts, admin, collections, faces, health, liveness_sessions, metrics, references, scans,
    transactions, webhooks,
};
use crate::state::AppState;
use crate::{Compat, HttpConfig, stats};

type Route = MethodRouter<AppState>;

/// Wraps routes in their gates.
struct Gates<'a> {
    state: &'a AppState,
    config: &'a HttpConfig,
}

/// `route` behind `gate`: the caller's rights, then the rate limit (which reads forwarded
/// addresses when `trust_forwarded_for`).
fn gated(state: &AppState, route: Route, gate: Gate, trust_forwarded_for: bool) -> Route {
    route.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), gate, trust_forwarded_for),
        access::enforce,
    ))
}

impl Gates<'_> {
    fn gated(&self, route: Route, need: Need, limit: Option<Limit>) -> Route {
        gated(
            self.state,
            route,
            Gate { need, limit },
            self.config.trust_forwarded_for,
        )
    }

    fn limit(name: &'static str, by: LimitBy, per_minute: u32) -> Limit {
        Limit {
            name,
            by,
            per_minute,
        }
    }

    /// Stateless face operations.
    fn verify(&self, route: Route) -> Route {
        self.gated(route, Need::Scope(Scope::Verify), None)
    }

    /// Enrollment and indexing, limited per key or user.
    fn index(&self, route: Route) -> Route {
        let per_minute = self.config.rate_limits.index_per_key_per_minute;
        self.gated(
            route,
            Need::Scope(Scope::Index),
            Some(Self::limit("index", LimitBy::Caller, per_minute)),
        )
    }

    /// Reading subjects and sessions.
    fn read(&self, route: Route) -> Route {
        self.gated(route, Need::Scope(Scope::Search), None)
    }

    /// Searches, limited per client IP; `public` drops the credentials requirement.
    fn search(&self, route: Route, public: bool) -> Route {
        let need = if public {
            Need::Public
        } else {
            Need::Scope(Scope::Search)
        };
        let per_minute = self.config.rate_limits.search_per_ip_per_minute;
        self.gated(
            route,
            need,
            Some(Self::limit("search", LimitBy::ClientIp, per_minute)),
        )
    }

    /// Acting on the calling user's own account.
    fn user(&self, route: Route) -> Route {
        self.gated(route, Need::User, None)
    }

    /// Uploads stored for a job of the calling user, limited per user.
    fn user_upload(&self, route: Route) -> Route {
        let per_minute = self.config.rate_limits.uploads_per_user_per_minute;
        self.gated(
            route,
            Need::User,
            Some(Self::limit("uploads", LimitBy::Caller, per_minute)),
        )
    }

    /// Any credentials; the use-case decides what the caller may see.
    fn caller(&self, route: Route) -> Route {
        self.gated(route, Need::Caller, None)
    }

    fn admin(&self, route: Route) -> Route {
        self.gated(route, Need::Scope(Scope::Admin), None)
    }

    fn public(&self, route: Route) -> Route {
        self.gated(route, Need::Public, None)
    }

    /// Registration and tokens: public, limited per client IP.
    fn signing_in(&self, route: Route) -> Route {
        let per_minute = self.config.rate_limits.auth_per_ip_per_minute;
        self.gated(
            route,
            Need::Public,
            Some(Self::limit("auth", LimitBy::ClientIp, per_minute)),
        )
    }
}

fn faces(g: &Gates) -> Router<AppState> {
    Router::new()
        .route("/detect", g.verify(post(faces::detect)))
        .route("/embed", g.verify(post(faces::embed)))
        .route("/verify", g.verify(post(faces::verify)))
        .route("/liveness", g.verify(post(faces::liveness)))
        .route("/analyze", g.verify(post(faces::analyze)))
        .route("/reference", g.index(post(references::enroll)))
        .route(
            "/reference/{id}",
            g.read(get(references::get_reference))
                .merge(g.index(delete(references::delete_reference))),
        )
        .route("/subjects", g.read(get(references::list_subjects)))
        .route(
            "/subjects/{name}",
            g.read(get(references::get_subject))
                .merge(g.index(delete(references::delete_subject))),
        )
        .route("/identify", g.search(post(references::identify), false))
        .route("/index", g.index(post(collections::index)))
        .route("/index/batch", g.index(post(collections::index_batch)))
        .route(
            "/index/{session_id}",
            g.index(delete(collections::delete_session)),
        )
        .route(
            "/search",
            g.search(post(collections::search), g.config.public_search),
        )
        .route(
            "/search/status/{session_id}",
            g.read(get(collections::status)),
        )
}

fn accounts(g: &Gates) -> Router<AppState> {
    Router::new()
        .route("/auth/register", g.signing_in(post(accounts::register)))
        .route("/auth/token", g.signing_in(post(accounts::token)))
        .route("/auth/logout", g.signing_in(post(accounts::logout)))
        .route("/auth/check", g.user(get(accounts::check)))
        .route("/auth/verify", g.user_upload(post(accounts::verify)))
        .route(
            "/users/me",
            g.user(get(accounts::me))
                .merge(g.user(delete(accounts::forget_me))),
        )
        .route("/jobs/{id}", g.caller(get(accounts::job)))
        .route("/scans", g.user_upload(post(scans::create)))
        .route(
            "/liveness/sessions",
            g.user(post(liveness_sessions::create)),
        )
        .route(
            "/liveness/sessions/{id}",
            g.user(get(liveness_sessions::get)),
        )
        .route(
            "/liveness/sessions/{id}/frames",
            g.user_upload(post(liveness_sessions::answer)),
        )
        .route("/scans/{id}", g.caller(get(scans::get)))
        .route("/leaderboard", g.caller(get(scans::leaderboard)))
        .route("/transactions", g.user(post(transactions::create)))
        .route("/transactions/report", g.user(post(transactions::report)))
        .route(
            "/webhooks",
            g.caller(post(webhooks::create))
                .merge(g.caller(get(webhooks::list))),
        )
        .route("/webhooks/{id}", g.caller(delete(webhooks::delete)))
        .route(
            "/webhooks/{id}/deliveries",
            g.caller(get(webhooks::deliveries)),
        )
}

fn administration(g: &Gates) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/api-keys",
            g.admin(post(admin::create_key))
                .merge(g.admin(get(admin::list_keys))),
        )
        .route("/admin/api-keys/{id}", g.admin(delete(admin::revoke_key)))
        .route(
            "/admin/users",
            g.admin(get(admin::list_users))
                .merge(g.admin(post(admin::create_user))),
        )
        .route("/admin/users/{id}", g.admin(delete(admin::delete_user)))
        .route("/admin/stats", g.admin(get(admin::stats)))
        .route("/admin/audit", g.admin(get(admin::audit)))
}

/// A route outside `/api/v1` that only admins may call (`/health/detailed`: data paths,
/// backends and decision thresholds): the caller resolved as on the API, then the admin
/// gate.
pub(crate) fn admin_only(state: &AppState, route: Route) -> Route {
    let admin = Gate {
        need: Need::Scope(Scope::Admin),
        limit: None,
    };
    // Only rate limits read forwarded addresses; this gate has none.
    gated(state, route, admin, false).route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        access::authenticate,
    ))
}

/// FacePass's paths of the health probe and the metrics, beside `/health` and `/metrics`.
fn facepass_probes(g: &Gates) -> Router<AppState> {
    Router::new()
        .route("/health", g.public(get(health::health)))
        .route("/metrics", g.public(get(metrics::metrics)))
}

/// The gateway system's paths (`/api/<service>/.../`) onto the same handlers and gates.
fn gateway(g: &Gates) -> Router<AppState> {
    Router::new()
        .route("/api-gateway/healthz/ready/", g.public(get(health::ready)))
        .route(
            "/auth-service/register/",
            g.signing_in(post(accounts::register)),
        )
        .route("/auth-service/auth/", g.signing_in(post(accounts::token)))
        .route("/auth-service/check_token/", g.user(get(accounts::check)))
        .route(
            "/auth-service/verify/",
            g.user_upload(post(accounts::verify)),
        )
        .route(
            "/transaction-service/create/",
            g.user(post(transactions::create)),
        )
        .route(
            "/transaction-service/report/",
            g.user(post(transactions::report)),
        )
        .route(
            "/face-verification-service/get_vector/",
            g.verify(get(faces::embed).post(faces::embed)),
        )
}

/// The `/api/v1` routes.
pub(crate) fn routes(state: &AppState, config: &HttpConfig) -> Router<AppState> {
    let g = Gates { state, config };
    let mut routes = faces(&g).merge(accounts(&g)).merge(administration(&g));
    if config.compat.contains(&Compat::Facepass) {
        routes = routes.merge(facepass_probes(&g));
    }
    authenticated(state, routes)
}

/// The gateway system's routes, nested under `/api`.
pub(crate) fn gateway_routes(state: &AppState, config: &HttpConfig) -> Router<AppState> {
    authenticated(state, gateway(&Gates { state, config }))
}

/// Every route resolves its caller's credentials and counts in the request statistics.
fn authenticated(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stats::record,
        ))
}

//! Settings under the environment names of the systems facegate replaces, so that a team
//! can carry its `.env` over: `DATABASE_URL`, `API_KEYS`, `S3_BUCKET` and the rest, each
//! mapped onto facegate's own setting. They rank above the configuration file and below
//! `FACEGATE__*` variables, which always win.

use anyhow::Context as _;
use serde_json::{Map, Value, json};

/// One carried variable: its name and the facegate settings it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub name: &'static str,
    pub settings: &'static str,
}

/// What each carried name sets, in the order `config print` lists them.
pub const NAMES: [Carried; 19] = [
    carried("API_KEYS", "auth.static_api_keys"),
    carried("JWT_SECRET_KEY", "auth.jwt_secret"),
    carried("ENCRYPTION_KEY", "security.encryption_key"),
    carried("CORS_ORIGINS", "http.cors_allowed_origins"),
    carried(
        "MAX_UPLOAD_SIZE",
        "vision.limits.max_bytes, http.body_limit_bytes",
    ),
    carried("FACE_SIMILARITY_THRESHOLD", "policy.search_threshold"),
    carried("FACE_DETECTION_THRESHOLD", "vision.detection_threshold"),
    carried("DATABASE_URL", "database.url"),
    carried("POSTGRES_HOST", "database.url"),
    carried("POSTGRES_PORT", "database.url"),
    carried("POSTGRES_USER", "database.url"),
    carried("POSTGRES_PASSWORD", "database.url"),
    carried("POSTGRES_DB", "database.url"),
    carried("REDIS_URL", "cache.redis_url"),
    carried("S3_BUCKET", "storage.object_store_url"),
    carried("S3_ENDPOINT", "storage.object_store_options.aws_endpoint"),
    carried(
        "S3_ACCESS_KEY",
        "storage.object_store_options.aws_access_key_id",
    ),
    carried(
        "S3_SECRET_KEY",
        "storage.object_store_options.aws_secret_access_key",
    ),
    carried("S3_REGION", "storage.object_store_options.aws_region"),
];

/// The recognition backend's spellings of the S3 names.
const ALIASES: [(&str, &str); 2] = [
    ("S3_ENDPOINT_URL", "S3_ENDPOINT"),
    ("S3_BUCKET_NAME", "S3_BUCKET"),
];

const fn carried(name: &'static str, settings: &'static str) -> Carried {
    Carried { name, settings }
}

/// The carried names present in `env`, each with what it sets (aliases under their own
/// name).
pub fn present(env: &impl Fn(&str) -> Option<String>) -> Vec<Carried> {
    let mut found: Vec<Carried> = NAMES
        .iter()
        .filter(|c| env(c.name).is_some())
        .cloned()
        .collect();
    for (alias, name) in ALIASES {
        if env(alias).is_some()
            && let Some(c) = NAMES.iter().find(|c| c.name == name)
        {
            found.push(carried(alias, c.settings));
        }
    }
    found
}

/// The settings the carried names in `env` set, as a nested object for figment.
pub fn settings(env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Value> {
    let var = |name: &str| {
        env(name)
            .or_else(|| {
                ALIASES
                    .iter()
                    .find(|(_, n)| *n == name)
                    .and_then(|(alias, _)| env(alias))
            })
            .filter(|v| !v.trim().is_empty())
    };
    let mut out = Map::new();
    let mut set = |path: &str, value: Value| insert(&mut out, path, value);
    if let Some(keys) = var("API_KEYS") {
        set("auth.static_api_keys", json!(list(&keys)));
    }
    if let Some(v) = var("JWT_SECRET_KEY") {
        set("auth.jwt_secret", json!(v));
    }
    if let Some(v) = var("ENCRYPTION_KEY") {
        set("security.encryption_key", json!(v));
    }
    if let Some(v) = var("CORS_ORIGINS") {
        set("http.cors_allowed_origins", json!(list(&v)));
    }
    if let Some(v) = var("MAX_UPLOAD_SIZE") {
        let bytes: usize = number("MAX_UPLOAD_SIZE", &v)?;
        set("vision.limits.max_bytes", json!(bytes));
        // Images may come as base64 in JSON: a third larger, plus the other fields.
        let defaults = facegate_http::HttpConfig::default();
        let body = (bytes / 3 * 4 + 64 * 1024).max(defaults.body_limit_bytes);
        set("http.body_limit_bytes", json!(body));
        set(
            "http.max_body_bytes_in_flight",
            json!(body.max(defaults.max_body_bytes_in_flight)),
        );
    }
    if let Some(v) = var("FACE_SIMILARITY_THRESHOLD") {
        set(
            "policy.search_threshold",
            json!(number::<f32>("FACE_SIMILARITY_THRESHOLD", &v)?),
        );
    }
    if let Some(v) = var("FACE_DETECTION_THRESHOLD") {
        set(
            "vision.detection_threshold",
            json!(number::<f32>("FACE_DETECTION_THRESHOLD", &v)?),
        );
    }
    if let Some(url) = database_url(&var)? {
        set("database.url", json!(url));
    }
    if let Some(v) = var("REDIS_URL") {
        set("cache.redis_url", json!(v));
    }
    if let Some(bucket) = var("S3_BUCKET") {
        set("storage.object_store_url", json!(format!("s3://{bucket}")));
    }
    if let Some(endpoint) = var("S3_ENDPOINT") {
        if endpoint.starts_with("http://") {
            set("storage.object_store_options.aws_allow_http", json!("true"));
        }
        set("storage.object_store_options.aws_endpoint", json!(endpoint));
    }
    for (name, option) in [
        ("S3_ACCESS_KEY", "aws_access_key_id"),
        ("S3_SECRET_KEY", "aws_secret_access_key"),
        ("S3_REGION", "aws_region"),
    ] {
        if let Some(v) = var(name) {
            set(&format!("storage.object_store_options.{option}"), json!(v));
        }
    }
    Ok(Value::Object(out))
}

/// `DATABASE_URL` (a SQLAlchemy driver suffix such as `+asyncpg` dropped), else a URL
/// built from `POSTGRES_HOST`, `_PORT`, `_USER`, `_PASSWORD` and `_DB`.
fn database_url(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<String>> {
    if let Some(url) = var("DATABASE_URL") {
        let Some((scheme, rest)) = url.split_once("://") else {
            anyhow::bail!("DATABASE_URL must be a postgres:// URL");
        };
        let scheme = scheme.split('+').next().unwrap_or(scheme);
        return Ok(Some(format!("{scheme}://{rest}")));
    }
    let Some(host) = var("POSTGRES_HOST") else {
        return Ok(None);
    };
    let mut url = url::Url::parse("postgres://localhost").expect("a constant URL");
    url.set_host(Some(&host))
        .with_context(|| format!("POSTGRES_HOST {host:?} is not a host name"))?;
    if let Some(port) = var("POSTGRES_PORT") {
        let port = number("POSTGRES_PORT", &port)?;
        url.set_port(Some(port))
            .map_err(|()| anyhow::anyhow!("POSTGRES_PORT cannot be set"))?;
    }
    let user = var("POSTGRES_USER").unwrap_or_else(|| "postgres".to_owned());
    url.set_username(&user)
        .map_err(|()| anyhow::anyhow!("POSTGRES_USER cannot be set"))?;
    if let Some(password) = var("POSTGRES_PASSWORD") {
        url.set_password(Some(&password))
            .map_err(|()| anyhow::anyhow!("POSTGRES_PASSWORD cannot be set"))?;
    }
    url.set_path(&var("POSTGRES_DB").unwrap_or(user));
    Ok(Some(url.to_string()))
}

/// A comma-separated list, blanks dropped.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> anyhow::Result<T> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} must be a number, got {text:?}"))
}

/// Sets `value` at the dotted `path` of `map`, creating the objects on the way.
fn insert(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn facepass_names_map_onto_settings() {
        let env = env(&[
            ("API_KEYS", "key-one-0123456789, key-two-0123456789,"),
            ("CORS_ORIGINS", "https://a.example,https://b.example"),
            ("FACE_SIMILARITY_THRESHOLD", "0.5"),
            ("POSTGRES_HOST", "db"),
            ("POSTGRES_USER", "face pass"),
            ("POSTGRES_PASSWORD", "p@ss/word"),
            ("POSTGRES_DB", "facepass"),
            ("S3_ENDPOINT", "http://minio:9000"),
            ("S3_BUCKET", "photos"),
            ("S3_ACCESS_KEY", "minio"),
        ]);
        let s = settings(&env).unwrap();
        assert_eq!(
            s["auth"]["static_api_keys"],
            json!(["key-one-0123456789", "key-two-0123456789"])
        );
        assert_eq!(
            s["http"]["cors_allowed_origins"],
            json!(["https://a.example", "https://b.example"])
        );
        assert_eq!(s["policy"]["search_threshold"], json!(0.5));
        assert_eq!(
            s["database"]["url"],
            json!("postgres://face%20pass:p%40ss%2Fword@db/facepass")
        );
        assert_eq!(s["storage"]["object_store_url"], json!("s3://photos"));
        let options = &s["storage"]["object_store_options"];
        assert_eq!(options["aws_endpoint"], json!("http://minio:9000"));
        assert_eq!(options["aws_allow_http"], json!("true"));
        assert_eq!(options["aws_access_key_id"], json!("minio"));
        let names: Vec<&str> = present(&env).iter().map(|c| c.name).collect();
        assert!(names.contains(&"API_KEYS") && names.contains(&"S3_ACCESS_KEY"));
        assert_eq!(names.len(), 10);
    }

    #[test]
    fn recognition_backend_names_map_onto_settings() {
        let env = env(&[
            ("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/faces"),
            ("REDIS_URL", "redis://cache:6379/0"),
            ("S3_ENDPOINT_URL", "https://s3.example"),
            ("S3_BUCKET_NAME", "faces"),
            ("MAX_UPLOAD_SIZE", "20971520"),
        ]);
        let s = settings(&env).unwrap();
        assert_eq!(
            s["database"]["url"],
            json!("postgresql://u:p@db:5432/faces")
        );
        assert_eq!(s["cache"]["redis_url"], json!("redis://cache:6379/0"));
        assert_eq!(s["storage"]["object_store_url"], json!("s3://faces"));
        let options = &s["storage"]["object_store_options"];
        assert_eq!(options["aws_endpoint"], json!("https://s3.example"));
        assert!(options.get("aws_allow_http").is_none());
        assert_eq!(s["vision"]["limits"]["max_bytes"], json!(20_971_520));
        assert!(s["http"]["body_limit_bytes"].as_u64().unwrap() > 20_971_520 / 3 * 4);
        let names: Vec<&str> = present(&env).iter().map(|c| c.name).collect();
        assert!(names.contains(&"S3_BUCKET_NAME") && names.contains(&"S3_ENDPOINT_URL"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("MAX_UPLOAD_SIZE", "10MB"),
            ("FACE_SIMILARITY_THRESHOLD", "high"),
            ("DATABASE_URL", "faces.db"),
        ] {
            let err = settings(&env(&[(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn nothing_carried_sets_nothing() {
        assert_eq!(settings(&env(&[])).unwrap(), json!({}));
        assert!(present(&env(&[])).is_empty());
    }
}

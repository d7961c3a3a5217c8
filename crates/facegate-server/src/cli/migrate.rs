//! `facegate migrate`: applies or reverts the schema migrations of the configured store
//! (PostgreSQL when `database.url` is set, else the embedded SQLite file), and lists them.
//! The store also migrates itself at start; run this as a deployment step (the Kubernetes
//! migrate Job) or to roll a schema back before downgrading.

use std::collections::HashSet;

use anyhow::Context;
use serde::Serialize;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Database, Pool};

use crate::cli::print_json;
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Action {
    /// Apply every pending migration (the default).
    Up,
    /// Revert migrations down to `--to` (0 reverts all); without it, the newest one.
    Down {
        #[arg(long)]
        to: Option<i64>,
    },
    /// List the migrations and whether each is applied.
    Status,
}

/// One migration as `status` lists it.
#[derive(Debug, Serialize)]
struct Migration {
    version: i64,
    description: String,
    applied: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    store: &'static str,
    action: &'static str,
    migrations: Vec<Migration>,
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let action = args.action.unwrap_or(Action::Up);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        if let Some(url) = settings.database.url()? {
            let pool = sqlx::PgPool::connect(&url)
                .await
                .context("cannot connect to PostgreSQL (database.url)")?;
            migrate(
                "postgres",
                &facegate_store_postgres::MIGRATOR,
                &pool,
                action,
            )
            .await
        } else {
            let dir = &settings.storage.data_dir;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let options = SqliteConnectOptions::new()
                .filename(dir.join(facegate_store_embedded::DATABASE_FILE))
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options)
                .await
                .context("cannot open the embedded store")?;
            migrate(
                "embedded",
                &facegate_store_embedded::MIGRATOR,
                &pool,
                action,
            )
            .await
        }
    })?;
    print_json(&report)
}

async fn migrate<DB>(
    store: &'static str,
    migrator: &Migrator,
    pool: &Pool<DB>,
    action: Action,
) -> anyhow::Result<Report>
where
    DB: Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection: sqlx::Acquire<'c, Database = DB>,
{
    let name = match action {
        Action::Up => {
            migrator.run(pool).await.context("migrating up")?;
            "up"
        }
        Action::Down { to } => {
            let target = match to {
                Some(v) => v,
                None => applied(pool).await?.iter().max().map_or(0, |newest| {
                    migrator
                        .iter()
                        .map(|m| m.version)
                        .filter(|v| v < newest)
                        .max()
                        .unwrap_or(0)
                }),
            };
            migrator
                .undo(pool, target)
                .await
                .context("migrating down")?;
            "down"
        }
        Action::Status => "status",
    };
    let applied = applied(pool).await?;
    let migrations = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| Migration {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect();
    Ok(Report {
        store,
        action: name,
        migrations,
    })
}

/// The versions applied so far.
async fn applied<DB>(pool: &Pool<DB>) -> anyhow::Result<HashSet<i64>>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let mut connection = pool.acquire().await?;
    connection.ensure_migrations_table().await?;
    Ok(connection
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect())
}

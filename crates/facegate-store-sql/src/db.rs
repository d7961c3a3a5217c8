//! The two databases behind one type, and what differs between their SQL.
//!
//! Statements are written once, with PostgreSQL's numbered placeholders (`$1`), which
//! SQLite reads too, and run on either database by [`on_db!`]: it repeats its body once per
//! database, so every statement is compiled against the concrete sqlx driver and needs no
//! generic bounds. What the two SQL dialects say differently is spelled in [`Dialect`].

use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};

/// One value for each database; the store holds [`SqlPool`] and passes [`SqlConn`] to
/// helpers that run inside a transaction.
#[derive(Debug)]
pub enum Db<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The connection pool of the store's database.
pub type SqlPool = Db<SqlitePool, PgPool>;

/// A connection (or a transaction's connection) of the store's database.
pub type SqlConn<'c> = Db<&'c mut SqliteConnection, &'c mut PgConnection>;

impl<'c> From<&'c mut SqliteConnection> for SqlConn<'c> {
    fn from(conn: &'c mut SqliteConnection) -> Self {
        Db::Sqlite(conn)
    }
}

impl<'c> From<&'c mut PgConnection> for SqlConn<'c> {
    fn from(conn: &'c mut PgConnection) -> Self {
        Db::Postgres(conn)
    }
}

/// Runs `$body` with `$db` bound to the inner value of a [`Db`], whichever database it is:
/// the body is written once and compiled once per driver.
macro_rules! on_db {
    ($value:expr, |$db:ident| $body:expr) => {
        match $value {
            $crate::db::Db::Sqlite($db) => $body,
            $crate::db::Db::Postgres($db) => $body,
        }
    };
}
pub(crate) use on_db;

/// Where the SQL of SQLite and PostgreSQL differs; everything else is written once.
#[derive(Debug)]
pub struct Dialect {
    /// Follows a text column in `ORDER BY` (and comparisons) to order it by bytes, as
    /// SQLite's default `BINARY` collation does, whatever the PostgreSQL database's
    /// collation.
    pub byte_order: &'static str,
    /// Ends the sub-select that picks a queue's next row: replicas of a PostgreSQL store
    /// pass over rows another one is claiming. SQLite runs a writing statement under the
    /// database's write lock from its first step, so its claims are atomic without it.
    pub skip_locked: &'static str,
    /// A statement that locks a user's row (`$1`) at the start of a transaction that deletes
    /// them, so that a foreign key check of a concurrent insert waits; `None` where the
    /// first write of the transaction locks the whole database (SQLite: a read first would
    /// make that write fail to upgrade its lock).
    pub lock_user: Option<&'static str>,
    /// The columns of an embedding, in the order [`crate::embedding::StoredEmbedding`] binds
    /// and reads them: sealed bytes and their key in SQLite, a pgvector `vector` and its
    /// dimension (for the partial HNSW indexes) in PostgreSQL.
    pub embedding_columns: &'static str,
    /// Starts a transaction whose statements all read one snapshot; `None` where every
    /// transaction does (SQLite in WAL mode).
    pub read_snapshot: Option<&'static str>,
}

/// SQLite, the embedded store's database.
pub const SQLITE: Dialect = Dialect {
    byte_order: "",
    skip_locked: "",
    lock_user: None,
    embedding_columns: "model, embedding, key_id",
    read_snapshot: None,
};

/// PostgreSQL with pgvector.
pub const POSTGRES: Dialect = Dialect {
    byte_order: " COLLATE \"C\"",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    lock_user: Some("SELECT 1 FROM users WHERE id = $1 FOR UPDATE"),
    embedding_columns: "model, embedding, dim",
    read_snapshot: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
};

impl<S, P> Db<S, P> {
    /// The dialect of this value's database.
    pub fn dialect(&self) -> &'static Dialect {
        match self {
            Db::Sqlite(_) => &SQLITE,
            Db::Postgres(_) => &POSTGRES,
        }
    }
}

impl SqlPool {
    /// Closes the connections, waiting for them to finish.
    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await);
    }

    /// Connections open (busy or idle) and idle.
    pub fn occupancy(&self) -> (u32, usize) {
        on_db!(self, |pool| (pool.size(), pool.num_idle()))
    }
}

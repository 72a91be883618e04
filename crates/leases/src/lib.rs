//! Leases and where they are kept.
//!
//! This crate defines the [`Lease`] record that the engine hands out and the
//! [`LeaseStore`] trait through which the server makes lease changes durable.
//! The memfile backend ([`memfile`]) reads and writes ISC Kea's `leases4.csv`
//! format, so a lease file can move between Kea and leasehold in both
//! directions; the SQL backends ([`sql`]) keep leases in Kea's PostgreSQL
//! and MySQL schema, which several servers may share.
//!
//! The crate does no allocation and keeps no index: deciding which address a
//! client gets is the engine's job. A store only loads what was persisted and
//! persists what it is given, and returns from [`LeaseStore::commit`] only
//! once the changes would survive a crash.

mod lease;
pub mod memfile;
pub mod sql;

pub use lease::{ClientId, HwAddr, Lease, LeaseState, ParseIdentifierError};

use std::path::PathBuf;

/// A batch of lease changes, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseChange {
    /// The lease was created or changed; the record is its new state.
    Upsert(Lease),
    /// The lease was removed (released, or reclaimed and dropped).
    Delete(Lease),
}

impl LeaseChange {
    /// The lease this change is about.
    pub fn lease(&self) -> &Lease {
        match self {
            Self::Upsert(lease) | Self::Delete(lease) => lease,
        }
    }
}

/// Persistent storage of leases.
///
/// A store is driven by one thread at a time: the server loads it once at
/// start and then calls [`commit`](Self::commit) with batches of changes,
/// which lets a store amortise one fsync over many clients (group commit).
pub trait LeaseStore: Send {
    /// Reads every lease that is currently stored, in no particular order.
    /// Deleted leases are not returned; expired ones are.
    fn load(&mut self) -> Result<Vec<Lease>, StoreError>;

    /// Makes `changes` durable. When this returns `Ok`, the changes survive
    /// a crash of the process or the machine.
    fn commit(&mut self, changes: &[LeaseChange]) -> Result<(), StoreError>;

    /// Like [`commit`](Self::commit), for stores shared with other servers:
    /// a change that finds its address held by another client is not made,
    /// and is returned as [`Lost`]; every other change is durable on `Ok`.
    /// A store no one else writes to loses nothing.
    fn commit_contested(&mut self, changes: &[LeaseChange]) -> Result<Vec<Lost>, StoreError> {
        self.commit(changes).map(|()| Vec::new())
    }

    /// Rewrites the store so it holds only `leases`, dropping the history of
    /// changes (Kea's lease file cleanup). Stores with nothing to compact do
    /// nothing.
    fn compact(&mut self, leases: &[Lease]) -> Result<(), StoreError> {
        let _ = leases;
        Ok(())
    }
}

/// A change another server beat us to: its address is held by another
/// client, so the change was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// The change's position in the batch given to
    /// [`commit_contested`](LeaseStore::commit_contested).
    pub index: usize,
    /// The lease that holds the address.
    pub holder: Lease,
}

/// What can go wrong while loading or persisting leases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or syncing a lease file failed.
    #[error("lease file {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A lease file has a line that cannot be read as a lease.
    #[error("lease file {path} line {line}: {reason}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// Kea's lease file cleanup (`kea-lfc`) is working on the lease files, so they cannot be
    /// read or rewritten now; Kea's server refuses to load in this case too.
    #[error("lease file cleanup (kea-lfc, pid {pid} in {pid_file}) is running")]
    CleanupRunning {
        /// The cleanup's pid file.
        pid_file: PathBuf,
        /// The process id it names.
        pid: u32,
    },
    /// The lease database cannot be reached now; the store reconnects.
    #[error("{database} unavailable: {reason}")]
    Unavailable {
        /// Where the database is (never the password).
        database: String,
        /// The connection error.
        reason: String,
    },
    /// The lease database refused a statement.
    #[error("{database}: {reason}")]
    Database {
        /// Where the database is.
        database: String,
        /// The error the server reported.
        reason: String,
    },
    /// The database holds no schema, or one of a version leasehold does not
    /// serve.
    #[error("{0}")]
    Schema(String),
}

//! Kea's memfile lease file (`leases4.csv`), read and written so that Kea 2.2 and leasehold
//! can each start from the other's files.
//!
//! # The format
//!
//! What follows was checked against Kea 2.2's source: `src/lib/dhcpsrv/csv_lease_file4.cc`
//! (columns and their encodings), `src/lib/util/csv_file.cc` (rows and escaping),
//! `src/lib/util/versioned_csv_file.cc` (older and newer headers),
//! `src/lib/dhcpsrv/lease_file_loader.h` (load semantics) and
//! `src/lib/dhcpsrv/memfile_lease_mgr.cc` (deletion, the file set, the load order).
//!
//! - The first line is the header
//!   `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context`.
//!   Every other line is one lease; rows are split on `,` with no quoting, and blank lines
//!   are skipped.
//! - `hwaddr` and `client_id` are lowercase two-digit hex octets joined by `:`, and empty
//!   when unset (a declined lease has neither). Kea rejects a row with neither unless its
//!   state is declined; so do we.
//! - `valid_lifetime` is in seconds; `expire` is cltt plus the lifetime, in seconds since the
//!   epoch ([`Lease::expire`]). `fqdn_fwd` and `fqdn_rev` are `0` or `1`; `state` is 0
//!   (assigned), 1 (declined) or 2 (expired-reclaimed).
//! - `hostname` and `user_context` (compact JSON, a map) are escaped: `,` is written `&#x2c`
//!   and `&` is written `&#x26`; on reading any `&#x` with two hex digits becomes that byte.
//!   We also escape control characters, which Kea 2.2 would write raw (and so break its
//!   own file on a newline); its reader decodes them like any other escape.
//! - A deleted lease is appended again with valid lifetime 0 (and so `expire` equal to its
//!   cltt). Loading replays the rows in order: a row replaces the earlier lease for the same
//!   address, and a row with valid lifetime 0 removes it.
//! - An older header (at least up to `hostname`, as Kea 1.x wrote) is accepted: its rows may
//!   lack the later columns, which take Kea's defaults (`state` 0, no user context). A newer
//!   header, such as Kea 2.4's extra `pool_id`, is accepted and the extra columns ignored.
//!   When we append to such a file we fill the extra columns (`pool_id` with Kea's default
//!   0) so the Kea version that wrote the header still reads our rows.
//!
//! # Rows that cannot be read
//!
//! Kea logs and skips a row it cannot read, and gives up only after `max-row-errors` of them
//! (0, the default, meaning never). We do the same, with a `tracing` warning naming the file
//! and line, and [`MemfileStore::with_max_row_errors`] for the limit; past it, loading
//! fails with [`StoreError::Parse`]. A header that is not a lease file header fails the load
//! as it does in Kea. A last line without its newline is a row cut short by a crash in the
//! middle of a write: it is skipped with a warning and never counts as an error, and the
//! next commit starts on a fresh line (Kea skips the blank line that may leave).
//!
//! # Lease file cleanup (LFC)
//!
//! Kea's server and its `kea-lfc` helper use, beside the lease file `name`: `name.2` (the
//! result of the previous cleanup), `name.1` (the lease file as it was when the cleanup
//! began), `name.output` (the cleanup's output while it is written), `name.completed` (that
//! output once whole) and `name.pid` (the running `kea-lfc`). At start Kea refuses to load
//! while that pid is alive; otherwise it loads `name.completed` if it exists, or else
//! `name.2` and then `name.1`, and always `name` last. [`MemfileStore::load`] does exactly
//! this (the pid is checked through `/proc`, so only on Linux).
//!
//! [`MemfileStore::compact`] writes from memory instead of replaying files, and moves the
//! files through states a Kea loader reads correctly at every step, each rename followed by
//! an fsync of the directory:
//!
//! 1. All leases go to `name.output`, sorted by address as `kea-lfc` writes them, then
//!    fsync. Loaders ignore `.output`, so a crash here changes nothing.
//! 2. `name.output` is renamed to `name.completed`. From now on loaders read `.completed`
//!    and then `name`, whose rows only repeat what `.completed` already holds.
//! 3. A header-only file is written to `name.output`, fsynced and renamed over `name`: the
//!    current file starts afresh and is reopened for appending.
//! 4. As `kea-lfc` finishes: `name.2` and `name.1` are removed and `name.completed` renamed
//!    to `name.2`.
//!
//! This is also the state a finished Kea cleanup leaves, so Kea's own LFC can take over
//! later. `compact` expects the leases it is given to be the state after every committed
//! change: until step 3 a crash replays the old `name` over them.
//!
//! # Known limits
//!
//! Kea's `pool_id` column is read past and written as 0. The user context is kept as text
//! and checked only for its braces, not parsed as JSON. A lease written with valid lifetime
//! 0 reads back as a deletion, as it does in Kea.

mod row;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::{Lease, LeaseChange, LeaseStore, StoreError};
use row::Schema;

/// Bytes of lease file per lease, roughly, to size the table before loading.
const BYTES_PER_ROW: u64 = 80;
/// Bytes formatted in memory before they are written out during a compaction.
const WRITE_CHUNK: usize = 1 << 20;

/// Leases kept in Kea's `leases4.csv` file, appended to on every commit.
#[derive(Debug)]
pub struct MemfileStore {
    files: FileSet,
    /// Whether leases are kept on disk at all.
    persist: bool,
    /// The open lease file; `None` when not persisting, or when reopening it after a
    /// compaction failed (the next commit tries again).
    current: Option<CurrentFile>,
    /// Reused for formatting so that a commit does not allocate.
    buffer: Vec<u8>,
    /// Unreadable rows tolerated per load; 0 for no limit.
    max_row_errors: u32,
}

impl MemfileStore {
    /// Opens (creating if absent, with the header) the lease file. `persist == false`: keep
    /// nothing on disk (load returns empty, commit is a no-op).
    pub fn open(path: impl Into<PathBuf>, persist: bool) -> Result<Self, StoreError> {
        let files = FileSet::new(path.into());
        let current = persist
            .then(|| CurrentFile::open(&files.current))
            .transpose()?;
        Ok(Self {
            files,
            persist,
            current,
            buffer: Vec::with_capacity(4096),
            max_row_errors: 0,
        })
    }

    /// Fails a load after more than `max` unreadable rows (Kea's `max-row-errors`). The
    /// default, 0, skips any number of them, as Kea does.
    pub fn with_max_row_errors(mut self, max: u32) -> Self {
        self.max_row_errors = max;
        self
    }

    /// The lease file this store appends to.
    pub fn path(&self) -> &Path {
        &self.files.current
    }

    /// Writes every lease into `name.output` and syncs it (step 1 of a compaction).
    fn write_snapshot(&mut self, leases: &[Lease]) -> Result<(), StoreError> {
        let path = &self.files.output;
        let mut file = File::create(path).map_err(io_error(path))?;
        let mut sorted: Vec<&Lease> = leases.iter().collect();
        sorted.sort_unstable_by_key(|lease| lease.address);

        self.buffer.clear();
        self.buffer.extend_from_slice(row::HEADER.as_bytes());
        self.buffer.push(b'\n');
        for lease in sorted {
            row::format(&mut self.buffer, lease, false, "");
            if self.buffer.len() >= WRITE_CHUNK {
                file.write_all(&self.buffer).map_err(io_error(path))?;
                self.buffer.clear();
            }
        }
        file.write_all(&self.buffer).map_err(io_error(path))?;
        self.buffer.clear();
        file.sync_all().map_err(io_error(path))
    }
}

impl LeaseStore for MemfileStore {
    fn load(&mut self) -> Result<Vec<Lease>, StoreError> {
        if !self.persist {
            return Ok(Vec::new());
        }
        self.files.ensure_no_cleanup_running()?;

        let files = &self.files;
        let mut loader = Loader::new(self.max_row_errors, files.largest_size());
        if files.finish.exists() {
            loader.load_file(&files.finish)?;
        } else {
            loader.load_file(&files.previous)?;
            loader.load_file(&files.input)?;
        }
        loader.load_file(&files.current)?;

        info!(
            path = %files.current.display(),
            leases = loader.leases.len(),
            rows = loader.rows,
            skipped = loader.errors,
            "loaded lease file"
        );
        Ok(loader.leases.leases)
    }

    fn commit(&mut self, changes: &[LeaseChange]) -> Result<(), StoreError> {
        if !self.persist || changes.is_empty() {
            return Ok(());
        }
        let current = match &mut self.current {
            Some(current) => current,
            None => self.current.insert(CurrentFile::open(&self.files.current)?),
        };

        // One buffer, one write, one fdatasync for the whole batch.
        self.buffer.clear();
        if current.needs_newline {
            self.buffer.push(b'\n');
        }
        for change in changes {
            let deleted = matches!(change, LeaseChange::Delete(_));
            row::format(
                &mut self.buffer,
                change.lease(),
                deleted,
                &current.row_suffix,
            );
        }
        current
            .append(&self.buffer)
            .map_err(io_error(&self.files.current))
    }

    fn compact(&mut self, leases: &[Lease]) -> Result<(), StoreError> {
        if !self.persist {
            return Ok(());
        }
        self.files.ensure_no_cleanup_running()?;

        self.write_snapshot(leases)?;
        let files = &self.files;
        rename(&files.output, &files.finish)?;
        files.sync_directory()?;

        // Replace the current file with a header-only one; its rows are all in the snapshot.
        write_header_file(&files.output)?;
        rename(&files.output, &files.current)?;
        // The old handle now points at the replaced file; never write through it again.
        self.current = None;
        files.sync_directory()?;
        self.current = Some(CurrentFile::open(&files.current)?);

        // Finish as kea-lfc does, so the directory is what a completed Kea cleanup leaves.
        remove_if_present(&files.previous)?;
        remove_if_present(&files.input)?;
        rename(&files.finish, &files.previous)?;
        files.sync_directory()?;

        info!(path = %files.current.display(), leases = leases.len(), "compacted lease file");
        Ok(())
    }
}

/// The lease file and the files Kea's lease file cleanup keeps next to it.
#[derive(Debug)]
struct FileSet {
    /// `name`: the file the server appends to.
    current: PathBuf,
    /// `name.2`: the result of the last cleanup.
    previous: PathBuf,
    /// `name.1`: the lease file as it was when a cleanup began.
    input: PathBuf,
    /// `name.output`: a cleanup's output while it is being written.
    output: PathBuf,
    /// `name.completed`: a cleanup's output once written whole.
    finish: PathBuf,
    /// `name.pid`: the process id of a running `kea-lfc`.
    pid: PathBuf,
}

impl FileSet {
    fn new(current: PathBuf) -> Self {
        let with_suffix = |suffix: &str| {
            let mut name = OsString::from(current.as_os_str());
            name.push(suffix);
            PathBuf::from(name)
        };
        Self {
            previous: with_suffix(".2"),
            input: with_suffix(".1"),
            output: with_suffix(".output"),
            finish: with_suffix(".completed"),
            pid: with_suffix(".pid"),
            current,
        }
    }

    /// Refuses to touch the files while `kea-lfc` works on them, as Kea's server does.
    fn ensure_no_cleanup_running(&self) -> Result<(), StoreError> {
        let text = match fs::read_to_string(&self.pid) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io_error(&self.pid)(error)),
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            warn!(path = %self.pid.display(), "ignoring unreadable lease file cleanup pid file");
            return Ok(());
        };
        // A pid file of ours (or one whose pid was reused by us) is stale.
        let is_alive =
            pid != std::process::id() && Path::new("/proc").join(pid.to_string()).exists();
        if is_alive {
            return Err(StoreError::CleanupRunning {
                pid_file: self.pid.clone(),
                pid,
            });
        }
        Ok(())
    }

    /// Makes the renames and creations in the lease file's directory durable.
    fn sync_directory(&self) -> Result<(), StoreError> {
        sync_parent(&self.current)
    }

    /// The size of the largest file of the set, to estimate how many leases there are.
    fn largest_size(&self) -> u64 {
        [&self.finish, &self.previous, &self.input, &self.current]
            .into_iter()
            .filter_map(|path| fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .max()
            .unwrap_or(0)
    }
}

/// The lease file, open for appending.
#[derive(Debug)]
struct CurrentFile {
    file: File,
    /// Filler for columns that the file's header has beyond ours.
    row_suffix: String,
    /// The file does not end with a newline (a cut-short row, or a failed write), so the
    /// next write must start a new line first.
    needs_newline: bool,
}

impl CurrentFile {
    /// Opens the lease file, creating it with the header when it is missing or when it
    /// holds no more than part of the header (a crash while creating it).
    fn open(path: &Path) -> Result<Self, StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_error(path))?;
        let start = first_line(&file).map_err(io_error(path))?;

        let full_header = format!("{}\n", row::HEADER);
        if full_header.as_bytes().starts_with(&start) && start.len() < full_header.len() {
            file.set_len(0).map_err(io_error(path))?;
            file.write_all(full_header.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_error(path))?;
            sync_parent(path)?;
            return Ok(Self::with_schema(file, Schema::current(), false));
        }

        let header = std::str::from_utf8(&start).unwrap_or_default();
        let schema =
            Schema::parse(header.trim_end_matches('\n')).map_err(|reason| StoreError::Parse {
                path: path.to_owned(),
                line: 1,
                reason: format!("not a lease file header: {reason}"),
            })?;
        let needs_newline = !ends_with_newline(&mut file).map_err(io_error(path))?;
        Ok(Self::with_schema(file, schema, needs_newline))
    }

    fn with_schema(file: File, schema: Schema, needs_newline: bool) -> Self {
        Self {
            file,
            row_suffix: schema.row_suffix().to_owned(),
            needs_newline,
        }
    }

    /// Appends whole rows and waits until they are on disk.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        // If the write fails part-way, the next one must not continue a half row.
        self.needs_newline = true;
        self.file.write_all(bytes)?;
        self.needs_newline = false;
        self.file.sync_data()
    }
}

/// Replays lease files into one table, Kea's way.
struct Loader {
    leases: LeaseTable,
    max_row_errors: u32,
    /// Rows read, over all files.
    rows: usize,
    /// Rows skipped as unreadable, over all files.
    errors: u32,
}

impl Loader {
    fn new(max_row_errors: u32, expected_bytes: u64) -> Self {
        let expected_rows = usize::try_from(expected_bytes / BYTES_PER_ROW).unwrap_or(0);
        Self {
            leases: LeaseTable::with_capacity(expected_rows),
            max_row_errors,
            rows: 0,
            errors: 0,
        }
    }

    /// Reads one file of the set; a missing file holds no leases.
    fn load_file(&mut self, path: &Path) -> Result<(), StoreError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io_error(path)(error)),
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut spanning = Vec::new();
        let mut lines = LineCursor::default();

        loop {
            // Most lines are parsed where they lie in the read buffer.
            let buffer = reader.fill_buf().map_err(io_error(path))?;
            if buffer.is_empty() {
                return Ok(());
            }
            if let Some(end) = memchr::memchr(b'\n', buffer) {
                self.load_line(path, &mut lines, &buffer[..end], false)?;
                reader.consume(end + 1);
                continue;
            }

            // A line that runs past the end of the buffer, or a last line without its newline.
            spanning.clear();
            reader
                .read_until(b'\n', &mut spanning)
                .map_err(io_error(path))?;
            let is_cut_short = spanning.last() != Some(&b'\n');
            if !is_cut_short {
                spanning.pop();
            }
            self.load_line(path, &mut lines, &spanning, is_cut_short)?;
        }
    }

    /// Reads one line, the header or a row; `is_cut_short` if it ended without its newline.
    fn load_line(
        &mut self,
        path: &Path,
        lines: &mut LineCursor,
        bytes: &[u8],
        is_cut_short: bool,
    ) -> Result<(), StoreError> {
        lines.number += 1;
        if bytes.is_empty() {
            return Ok(());
        }
        let line = match std::str::from_utf8(bytes) {
            Ok(line) => Cow::Borrowed(line),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        match &lines.schema {
            Some(schema) => self.load_row(path, lines.number, &line, schema, is_cut_short),
            None => {
                let schema = read_header(path, lines.number, &line, is_cut_short)?;
                lines.schema = Some(schema);
                Ok(())
            }
        }
    }

    fn load_row(
        &mut self,
        path: &Path,
        number: usize,
        line: &str,
        schema: &Schema,
        is_cut_short: bool,
    ) -> Result<(), StoreError> {
        self.rows += 1;
        let lease = match row::parse(line, schema) {
            Ok(lease) => lease,
            Err(error) if is_cut_short => {
                warn!(path = %path.display(), line = number, %error,
                    "skipping lease file row cut short, as by a crash while writing");
                return Ok(());
            }
            Err(error) => return self.skip_row(path, number, error.to_string()),
        };

        if lease.valid_lifetime == 0 {
            self.leases.remove(lease.address);
        } else {
            self.leases.upsert(lease);
        }
        Ok(())
    }

    fn skip_row(&mut self, path: &Path, line: usize, reason: String) -> Result<(), StoreError> {
        self.errors += 1;
        if self.max_row_errors != 0 && self.errors > self.max_row_errors {
            return Err(StoreError::Parse {
                path: path.to_owned(),
                line,
                reason: format!(
                    "{reason} (more than {} unreadable rows)",
                    self.max_row_errors
                ),
            });
        }
        warn!(path = %path.display(), line, %reason, "skipping unreadable lease file row");
        Ok(())
    }
}

/// Where the reading of one file is: the line number and, once read, the header.
#[derive(Default)]
struct LineCursor {
    number: usize,
    schema: Option<Schema>,
}

/// The leases loaded so far: a vector, which is what `load` returns, and an index into it
/// by address.
struct LeaseTable {
    leases: Vec<Lease>,
    positions: AddressIndex,
}

impl LeaseTable {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            leases: Vec::with_capacity(capacity),
            positions: AddressIndex::default(),
        }
    }

    fn len(&self) -> usize {
        self.leases.len()
    }

    /// Adds the lease, or replaces the one at its address.
    fn upsert(&mut self, lease: Lease) {
        let slot = self.positions.slot(lease.address);
        match slot.checked_sub(1) {
            Some(position) => self.leases[position as usize] = lease,
            None => {
                self.leases.push(lease);
                *slot = position_value(self.leases.len());
            }
        }
    }

    fn remove(&mut self, address: Ipv4Addr) {
        let slot = self.positions.slot(address);
        let Some(position) = slot.checked_sub(1) else {
            return;
        };
        *slot = 0;
        let position = position as usize;
        self.leases.swap_remove(position);
        if let Some(moved) = self.leases.get(position) {
            *self.positions.slot(moved.address) = position_value(position + 1);
        }
    }
}

/// A slot's value for the lease at `count - 1`. There are at most 2^32 addresses, and a
/// table that size would not fit in memory, so the conversion cannot fail in practice.
fn position_value(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Maps addresses to places in the lease vector: one block of 256 slots per /24 that holds
/// leases, each slot 0 or a position plus one. Lease files are mostly sorted by address, and
/// with a million leases the cost of loading is in touching memory at random places (on a
/// virtual machine especially); with blocks, a sorted file fills its slots in order, and even
/// an unsorted one touches about 1 KiB per /24 instead of a table of megabytes.
#[derive(Default)]
struct AddressIndex {
    /// The blocks, in the order their /24s were first seen.
    blocks: Vec<[u32; 256]>,
    /// Where in `blocks` each /24's block is.
    by_prefix: HashMap<u32, usize>,
    /// The /24 used last and its block, so that a sorted file rarely looks up `by_prefix`.
    last: Option<(u32, usize)>,
}

impl AddressIndex {
    /// The slot for `address`.
    fn slot(&mut self, address: Ipv4Addr) -> &mut u32 {
        let bits = u32::from(address);
        let prefix = bits >> 8;
        let block = match self.last {
            Some((last, block)) if last == prefix => block,
            _ => {
                let blocks = &mut self.blocks;
                let block = *self.by_prefix.entry(prefix).or_insert_with(|| {
                    blocks.push([0; 256]);
                    blocks.len() - 1
                });
                self.last = Some((prefix, block));
                block
            }
        };
        &mut self.blocks[block][(bits & 0xff) as usize]
    }
}

/// Checks a file's header. Part of our header, cut short when the file was created, is a
/// file without rows.
fn read_header(
    path: &Path,
    number: usize,
    line: &str,
    is_cut_short: bool,
) -> Result<Schema, StoreError> {
    if is_cut_short && row::HEADER.starts_with(line) {
        return Ok(Schema::current());
    }
    Schema::parse(line).map_err(|reason| StoreError::Parse {
        path: path.to_owned(),
        line: number,
        reason: format!("not a lease file header: {reason}"),
    })
}

/// The first non-blank line (Kea skips blank lines before the header too), with its newline,
/// or as much of it as there is. Only a header's length is read: a longer line is no header.
fn first_line(file: &File) -> io::Result<Vec<u8>> {
    let mut reader = BufReader::new(file.take(row::HEADER.len() as u64 * 4));
    let mut line = Vec::new();
    while line.is_empty() || line == b"\n" {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
    }
    Ok(line)
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn write_header_file(path: &Path) -> Result<(), StoreError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    file.write_all(format!("{}\n", row::HEADER).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::rename(from, to).map_err(io_error(from))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(io_error(path)(error)),
        _ => Ok(()),
    }
}

/// Makes a file's creation or renaming durable by syncing its directory.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error(directory))
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tempfile::TempDir;

    use super::*;
    use crate::{ClientId, HwAddr, LeaseState};

    const HEADER_LINE: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,\
                               fqdn_fwd,fqdn_rev,hostname,state,user_context\n";

    /// A lease file as Kea 2.2 writes it: an escaped host name, an escaped user context, a
    /// lease with only a client id, a declined lease without identifiers, a deletion (valid
    /// lifetime 0, expire = cltt) and a renewal that supersedes an earlier row.
    const KEA_2_2_FILE: &str = "\
address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
192.0.2.10,02:00:00:00:00:0a,01:02:00:00:00:00:0a,4000,1700004000,1,1,1,host&#x2cname.example.org,0,
192.0.2.11,02:00:00:00:00:0b,,3600,1700003600,1,0,0,,0,{ \"comment\": \"a&#x2c b\"&#x2c \"n\": 1 }
192.0.2.12,,01:aa:bb,3600,1700003600,2,0,0,,0,
192.0.2.13,02:00:00:00:00:0d,,3600,1700003600,1,0,0,,0,
192.0.2.13,02:00:00:00:00:0d,,0,1700000000,1,0,0,,0,
192.0.2.14,,,86400,1700086400,1,0,0,,1,
192.0.2.10,02:00:00:00:00:0a,01:02:00:00:00:00:0a,4000,1700008000,1,1,1,host&#x2cname.example.org,0,
";

    fn lease(last_octet: u8) -> Lease {
        Lease {
            address: Ipv4Addr::new(192, 0, 2, last_octet),
            hwaddr: HwAddr::new(&[2, 0, 0, 0, 0, last_octet]),
            client_id: None,
            valid_lifetime: 3600,
            expire: 1_700_003_600,
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: String::new(),
            state: LeaseState::Assigned,
            user_context: None,
        }
    }

    fn lease_file(dir: &TempDir) -> PathBuf {
        dir.path().join("leases4.csv")
    }

    fn open(dir: &TempDir) -> MemfileStore {
        MemfileStore::open(lease_file(dir), true).unwrap()
    }

    fn load_sorted(store: &mut MemfileStore) -> Vec<Lease> {
        let mut leases = store.load().unwrap();
        leases.sort_by_key(|lease| lease.address);
        leases
    }

    fn write(dir: &TempDir, suffix: &str, text: &str) {
        let mut path = lease_file(dir).into_os_string();
        path.push(suffix);
        fs::write(path, text).unwrap();
    }

    fn read(dir: &TempDir, suffix: &str) -> Option<String> {
        let mut path = lease_file(dir).into_os_string();
        path.push(suffix);
        fs::read_to_string(path).ok()
    }

    fn row(lease: &Lease) -> String {
        let mut out = Vec::new();
        row::format(&mut out, lease, false, "");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn loads_a_file_written_by_kea_2_2() {
        let dir = TempDir::new().unwrap();
        write(&dir, "", KEA_2_2_FILE);

        let leases = load_sorted(&mut open(&dir));

        let renewed = Lease {
            client_id: Some(ClientId::new(&[1, 2, 0, 0, 0, 0, 0x0a])),
            valid_lifetime: 4000,
            expire: 1_700_008_000,
            fqdn_fwd: true,
            fqdn_rev: true,
            hostname: "host,name.example.org".into(),
            ..lease(10)
        };
        let with_context = Lease {
            user_context: Some(r#"{ "comment": "a, b", "n": 1 }"#.into()),
            ..lease(11)
        };
        let client_id_only = Lease {
            hwaddr: None,
            client_id: Some(ClientId::new(&[1, 0xaa, 0xbb])),
            subnet_id: 2,
            ..lease(12)
        };
        let declined = Lease {
            hwaddr: None,
            valid_lifetime: 86400,
            expire: 1_700_086_400,
            state: LeaseState::Declined,
            ..lease(14)
        };
        assert_eq!(leases, [renewed, with_context, client_id_only, declined]);
    }

    #[test]
    fn commits_are_written_byte_for_byte_as_kea_writes_them() {
        let dir = TempDir::new().unwrap();
        let mut store = open(&dir);
        let full = Lease {
            client_id: Some(ClientId::new(&[1, 2, 0, 0, 0, 0, 0x01])),
            subnet_id: 7,
            fqdn_fwd: true,
            hostname: "a,b&c".into(),
            user_context: Some(r#"{ "k": "x,y" }"#.into()),
            ..lease(1)
        };

        store
            .commit(&[LeaseChange::Upsert(full.clone()), LeaseChange::Delete(full)])
            .unwrap();

        let expected = format!(
            "{HEADER_LINE}\
             192.0.2.1,02:00:00:00:00:01,01:02:00:00:00:00:01,3600,1700003600,7,1,0,\
             a&#x2cb&#x26c,0,{{ \"k\": \"x&#x2cy\" }}\n\
             192.0.2.1,02:00:00:00:00:01,01:02:00:00:00:00:01,0,1700000000,7,1,0,\
             a&#x2cb&#x26c,0,{{ \"k\": \"x&#x2cy\" }}\n"
        );
        assert_eq!(read(&dir, "").unwrap(), expected);
    }

    #[test]
    fn committed_leases_read_back() {
        let dir = TempDir::new().unwrap();
        let mut store = open(&dir);
        let odd = Lease {
            hwaddr: None,
            client_id: Some(ClientId::new(&[0xff; 32])),
            valid_lifetime: u32::MAX,
            expire: u64::MAX,
            subnet_id: u32::MAX,
            fqdn_rev: true,
            hostname: "new\nline, &#x2c and ünïcode".into(),
            state: LeaseState::ExpiredReclaimed,
            user_context: Some("{ \"a\": [1, 2], \"b\": \"&\" }".into()),
            ..lease(2)
        };
        let changes = [
            LeaseChange::Upsert(lease(1)),
            LeaseChange::Upsert(odd.clone()),
            LeaseChange::Upsert(lease(3)),
            LeaseChange::Delete(lease(3)),
        ];

        store.commit(&changes).unwrap();
        store.commit(&[]).unwrap();

        assert_eq!(load_sorted(&mut open(&dir)), [lease(1), odd]);
    }

    #[test]
    fn later_files_override_earlier_ones_in_kea_order() {
        let dir = TempDir::new().unwrap();
        let renewed = Lease {
            expire: 1_700_007_200,
            ..lease(1)
        };
        let renewed_again = Lease {
            expire: 1_700_010_800,
            ..lease(1)
        };
        write(
            &dir,
            ".2",
            &format!("{HEADER_LINE}{}{}", row(&lease(1)), row(&lease(2))),
        );
        let mut deleted = Vec::new();
        row::format(&mut deleted, &lease(2), true, "");
        let deleted = String::from_utf8(deleted).unwrap();
        write(
            &dir,
            ".1",
            &format!("{HEADER_LINE}{}{deleted}", row(&renewed)),
        );
        write(&dir, "", &format!("{HEADER_LINE}{}", row(&lease(3))));
        // Not a finished file: loaders ignore it.
        write(&dir, ".output", &format!("{HEADER_LINE}{}", row(&lease(9))));

        assert_eq!(load_sorted(&mut open(&dir)), [renewed.clone(), lease(3)]);

        write(
            &dir,
            "",
            &format!("{HEADER_LINE}{}{}", row(&lease(3)), row(&renewed_again)),
        );
        assert_eq!(
            load_sorted(&mut open(&dir)),
            [renewed_again.clone(), lease(3)]
        );

        // A completed cleanup replaces both .2 and .1.
        write(
            &dir,
            ".completed",
            &format!("{HEADER_LINE}{}", row(&lease(4))),
        );
        assert_eq!(
            load_sorted(&mut open(&dir)),
            [renewed_again, lease(3), lease(4)]
        );
    }

    #[test]
    fn compaction_leaves_the_files_a_finished_kea_cleanup_leaves() {
        let dir = TempDir::new().unwrap();
        // Kea was interrupted in the middle of a cleanup.
        write(&dir, ".1", &format!("{HEADER_LINE}{}", row(&lease(1))));
        write(
            &dir,
            ".completed",
            &format!("{HEADER_LINE}{}", row(&lease(2))),
        );
        let mut store = open(&dir);
        store
            .commit(&[
                LeaseChange::Upsert(lease(5)),
                LeaseChange::Upsert(lease(3)),
                LeaseChange::Delete(lease(2)),
            ])
            .unwrap();
        let leases = load_sorted(&mut store);
        assert_eq!(leases, [lease(3), lease(5)]);

        store.compact(&leases).unwrap();

        let snapshot = format!("{HEADER_LINE}{}{}", row(&lease(3)), row(&lease(5)));
        assert_eq!(read(&dir, ".2").unwrap(), snapshot);
        assert_eq!(read(&dir, "").unwrap(), HEADER_LINE);
        for gone in [".1", ".completed", ".output"] {
            assert_eq!(read(&dir, gone), None, "{gone} is left over");
        }
        assert_eq!(load_sorted(&mut open(&dir)), leases);

        // New commits go to the fresh lease file.
        store.commit(&[LeaseChange::Upsert(lease(6))]).unwrap();
        assert_eq!(
            read(&dir, "").unwrap(),
            format!("{HEADER_LINE}{}", row(&lease(6)))
        );
        assert_eq!(load_sorted(&mut open(&dir)), [lease(3), lease(5), lease(6)]);
    }

    #[test]
    fn a_row_cut_short_by_a_crash_is_skipped() {
        let dir = TempDir::new().unwrap();
        write(
            &dir,
            "",
            &format!(
                "{HEADER_LINE}{}192.0.2.2,02:00:00:00:00:02,,36",
                row(&lease(1))
            ),
        );
        let mut store = open(&dir).with_max_row_errors(1);
        assert_eq!(load_sorted(&mut store), [lease(1)]);

        // The next commit starts on a new line; the cut-short row stays unreadable.
        store.commit(&[LeaseChange::Upsert(lease(3))]).unwrap();
        assert!(
            read(&dir, "")
                .unwrap()
                .ends_with(",36\n192.0.2.3,02:00:00:00:00:03,,3600,1700003600,1,0,0,,0,\n")
        );
        assert_eq!(load_sorted(&mut store), [lease(1), lease(3)]);
    }

    #[test]
    fn a_whole_last_row_without_its_newline_is_kept() {
        let dir = TempDir::new().unwrap();
        let text = format!("{HEADER_LINE}{}", row(&lease(1)));
        write(&dir, "", text.trim_end());
        let mut store = open(&dir);
        assert_eq!(load_sorted(&mut store), [lease(1)]);

        store.commit(&[LeaseChange::Upsert(lease(2))]).unwrap();
        assert_eq!(load_sorted(&mut store), [lease(1), lease(2)]);
    }

    #[test]
    fn unreadable_rows_are_skipped_up_to_the_limit() {
        let dir = TempDir::new().unwrap();
        let text = format!(
            "{HEADER_LINE}{}192.0.2.300,02:00:00:00:00:02,,3600,1700003600,1,0,0,,0,\n\n\
             192.0.2.4,,,3600,1700003600,1,0,0,,0,\n{}",
            row(&lease(1)),
            row(&lease(5))
        );
        write(&dir, "", &text);
        assert_eq!(load_sorted(&mut open(&dir)), [lease(1), lease(5)]);

        let error = open(&dir).with_max_row_errors(1).load().unwrap_err();
        assert!(
            matches!(error, StoreError::Parse { line: 5, .. }),
            "{error}"
        );
    }

    #[test]
    fn not_persisting_touches_no_file() {
        let dir = TempDir::new().unwrap();
        let mut store = MemfileStore::open(lease_file(&dir), false).unwrap();

        store.commit(&[LeaseChange::Upsert(lease(1))]).unwrap();
        store.compact(&[lease(1)]).unwrap();

        assert_eq!(store.load().unwrap(), []);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_new_file_gets_the_header() {
        let dir = TempDir::new().unwrap();
        open(&dir);
        assert_eq!(read(&dir, "").unwrap(), HEADER_LINE);

        // A header cut short while the file was created is written again.
        write(&dir, "", "address,hwaddr,cli");
        let mut store = open(&dir);
        assert_eq!(store.load().unwrap(), []);
        assert_eq!(read(&dir, "").unwrap(), HEADER_LINE);
    }

    #[test]
    fn older_headers_are_accepted() {
        let dir = TempDir::new().unwrap();
        // Kea 1.1 (no user_context) and Kea 1.0 (no state either).
        write(
            &dir,
            ".2",
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n\
             192.0.2.1,02:00:00:00:00:01,,3600,1700003600,1,0,0,\n",
        );
        write(
            &dir,
            "",
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,\
             hostname,state\n\
             192.0.2.2,02:00:00:00:00:02,,3600,1700003600,1,0,0,,0\n",
        );
        let mut store = open(&dir);
        assert_eq!(load_sorted(&mut store), [lease(1), lease(2)]);

        store.commit(&[LeaseChange::Upsert(lease(3))]).unwrap();
        assert_eq!(load_sorted(&mut store), [lease(1), lease(2), lease(3)]);
    }

    #[test]
    fn newer_headers_with_pool_id_are_accepted() {
        let dir = TempDir::new().unwrap();
        write(
            &dir,
            "",
            &format!(
                "{},pool_id\n192.0.2.1,02:00:00:00:00:01,,3600,1700003600,1,0,0,,0,,3\n",
                HEADER_LINE.trim_end()
            ),
        );
        let mut store = open(&dir);
        assert_eq!(load_sorted(&mut store), [lease(1)]);

        // Rows appended to such a file carry the column, as Kea 2.4 requires.
        store.commit(&[LeaseChange::Upsert(lease(2))]).unwrap();
        assert!(read(&dir, "").unwrap().ends_with(",1,0,0,,0,,0\n"));
        assert_eq!(load_sorted(&mut store), [lease(1), lease(2)]);
    }

    #[test]
    fn a_file_that_is_not_a_lease_file_is_refused() {
        let dir = TempDir::new().unwrap();
        write(&dir, "", "address,mac,client\n");
        let error = MemfileStore::open(lease_file(&dir), true).unwrap_err();
        assert!(
            matches!(error, StoreError::Parse { line: 1, .. }),
            "{error}"
        );

        fs::remove_file(lease_file(&dir)).unwrap();
        write(&dir, ".2", "\n\nnot,a,lease,file\n");
        let error = open(&dir).load().unwrap_err();
        assert!(
            matches!(error, StoreError::Parse { line: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_running_kea_cleanup_blocks_loading() {
        let dir = TempDir::new().unwrap();
        let mut store = open(&dir);
        // Process 1 always exists on Linux.
        write(&dir, ".pid", "1\n");
        if Path::new("/proc/1").exists() {
            let error = store.load().unwrap_err();
            assert!(
                matches!(error, StoreError::CleanupRunning { pid: 1, .. }),
                "{error}"
            );
            assert!(store.compact(&[]).is_err());
        }

        // A stale pid file is ignored.
        write(&dir, ".pid", "2147483647\n");
        assert_eq!(store.load().unwrap(), []);
    }

    /// Kea's own cleanup program reads the rows we append and writes its snapshot; that
    /// snapshot must hold the leases we load, byte for byte what our compaction writes.
    #[test]
    #[ignore = "needs kea-lfc from Kea 2.2 on the PATH"]
    fn kea_lfc_agrees_with_our_files() {
        let dir = TempDir::new().unwrap();
        let mut store = open(&dir);
        let named = Lease {
            client_id: Some(ClientId::new(&[1, 2, 3])),
            hostname: "a,b&c".into(),
            user_context: Some(r#"{ "k": "x,y" }"#.into()),
            ..lease(1)
        };
        let declined = Lease {
            hwaddr: None,
            state: LeaseState::Declined,
            ..lease(2)
        };
        let changes = [
            LeaseChange::Upsert(named),
            LeaseChange::Upsert(declined),
            LeaseChange::Upsert(lease(3)),
            LeaseChange::Upsert(lease(4)),
            LeaseChange::Delete(lease(3)),
            LeaseChange::Upsert(Lease {
                expire: 1_700_007_200,
                ..lease(4)
            }),
        ];
        store.commit(&changes).unwrap();
        let ours = load_sorted(&mut store);

        // What Kea's server does before it starts kea-lfc, then kea-lfc itself.
        let path = lease_file(&dir);
        let name = |suffix: &str| format!("{}{suffix}", path.display());
        fs::rename(&path, name(".1")).unwrap();
        fs::write(name(".conf"), "{}").unwrap();
        let status = std::process::Command::new("kea-lfc")
            .args([
                "-4",
                "-c",
                &name(".conf"),
                "-p",
                &name(".pid"),
                "-x",
                &name(".2"),
            ])
            .args([
                "-i",
                &name(".1"),
                "-o",
                &name(".output"),
                "-f",
                &name(".completed"),
            ])
            .status()
            .unwrap();
        assert!(status.success());

        assert_eq!(load_sorted(&mut open(&dir)), ours);
        let ours_dir = TempDir::new().unwrap();
        open(&ours_dir).compact(&ours).unwrap();
        assert_eq!(read(&dir, ".2").unwrap(), read(&ours_dir, ".2").unwrap());
    }

    /// Run with `cargo test --release -p leasehold-leases -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, meaningful only in release builds"]
    fn million_leases_load_quickly() {
        const COUNT: u32 = 1_000_000;
        let numbered = |n: u32| {
            let address = Ipv4Addr::from(0x0a00_0000 + n);
            let [_, b, c, d] = address.octets();
            Lease {
                address,
                hwaddr: HwAddr::new(&[2, 0, 0, b, c, d]),
                client_id: Some(ClientId::new(&[1, 2, 0, 0, b, c, d])),
                hostname: format!("host-{n}.example.org"),
                ..lease(0)
            }
        };

        // Sorted, as a compaction (ours or kea-lfc's) leaves it.
        let sorted = TempDir::new().unwrap();
        let leases: Vec<Lease> = (0..COUNT).map(numbered).collect();
        let started = Instant::now();
        open(&sorted).compact(&leases).unwrap();
        println!("compact 1M leases: {:?}", started.elapsed());
        drop(leases);
        time_loads(&sorted, "sorted .2 file");

        // In no order, as commits append them; 7919 is prime to COUNT, so this is a permutation.
        let unsorted = TempDir::new().unwrap();
        let mut store = open(&unsorted);
        let changes: Vec<LeaseChange> = (0..COUNT)
            .map(|n| LeaseChange::Upsert(numbered((u64::from(n) * 7919 % u64::from(COUNT)) as u32)))
            .collect();
        for batch in changes.chunks(10_000) {
            store.commit(batch).unwrap();
        }
        drop(changes);
        time_loads(&unsorted, "unsorted lease file");
    }

    fn time_loads(dir: &TempDir, what: &str) {
        let bytes: u64 = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().metadata().unwrap().len())
            .sum();
        for _ in 0..3 {
            let started = Instant::now();
            let cpu_started = thread_cpu_time();
            let loaded = open(dir).load().unwrap();
            let cpu = thread_cpu_time() - cpu_started;
            println!(
                "load {what} ({bytes} bytes): {:?} ({cpu:?} on the CPU)",
                started.elapsed()
            );
            assert_eq!(loaded.len(), 1_000_000);
        }
    }

    /// Time this thread has run, from Linux's scheduler statistics (zero elsewhere).
    fn thread_cpu_time() -> std::time::Duration {
        let stat = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        let nanoseconds = stat.split(' ').next().and_then(|n| n.parse().ok());
        std::time::Duration::from_nanos(nanoseconds.unwrap_or(0))
    }
}

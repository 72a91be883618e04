//! `serve --user`: dropping root for an unprivileged account that keeps only
//! the three capabilities the server uses while it runs.
//!
//! - `CAP_NET_BIND_SERVICE`: port 67, bound again when a reload adds an
//!   interface (and a control port below 1024).
//! - `CAP_NET_RAW`: `SO_BINDTODEVICE`, which ties each socket to its
//!   interface.
//! - `CAP_NET_ADMIN`: `SIOCSARP`, the ARP entry that lets a unicast reply
//!   reach a client that has no address yet.
//!
//! Capabilities belong to each thread, and a new thread copies its
//! creator's. The switch is therefore made before the server starts any
//! thread, in the main thread, so that every worker, control and poller
//! thread holds exactly these three. Files the server opens from then on (the
//! lease file and its directory, the configuration file, the control
//! socket's directory, the ready file) must be usable by the account; the
//! lease file's directory and the configuration file are checked here so the
//! start fails with a clear message rather than at the first reload or lease
//! file cleanup.

use std::ffi::CString;
use std::path::Path;

use anyhow::{Context, bail};
use caps::{CapSet, Capability, CapsHashSet};
use leasehold_config::{Config, LeaseDatabase};
use nix::unistd::{AccessFlags, Gid, Group, Uid, User, access};

/// The capabilities kept after the switch.
pub(crate) const KEPT: [Capability; 3] = [
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_NET_RAW,
    Capability::CAP_NET_ADMIN,
];

/// The account `serve` runs as, looked up while still root.
pub(crate) struct Account {
    name: String,
    uid: Uid,
    gid: Gid,
}

impl Account {
    /// Looks up `user`, and `group` or else the user's primary group;
    /// refuses when not running as root.
    pub(crate) fn lookup(user: &str, group: Option<&str>) -> anyhow::Result<Self> {
        if !Uid::effective().is_root() {
            bail!(
                "--user {user} needs leasehold to start as root (it runs as uid {}); \
                 without root, leave out --user and grant the capabilities instead \
                 (see docs/operations.md)",
                Uid::effective()
            );
        }
        let account = User::from_name(user)
            .with_context(|| format!("cannot look up user {user}"))?
            .with_context(|| format!("--user {user}: no such user"))?;
        let gid = match group {
            None => account.gid,
            Some(name) => {
                Group::from_name(name)
                    .with_context(|| format!("cannot look up group {name}"))?
                    .with_context(|| format!("--group {name}: no such group"))?
                    .gid
            }
        };
        Ok(Self {
            name: account.name,
            uid: account.uid,
            gid,
        })
    }

    /// Becomes this account with only [`KEPT`]: supplementary groups, group,
    /// user, then the capability sets. Must run before any thread is started
    /// that should be bound by the result.
    pub(crate) fn switch(&self) -> anyhow::Result<()> {
        let kept: CapsHashSet = KEPT.into_iter().collect();
        // Children (the --on-failure command) can never regain the rest.
        for capability in caps::all().difference(&kept) {
            caps::drop(None, CapSet::Bounding, *capability)
                .with_context(|| format!("cannot drop {capability} from the bounding set"))?;
        }
        caps::securebits::set_keepcaps(true).context("cannot keep capabilities (prctl)")?;
        let name = CString::new(self.name.as_str()).context("user name")?;
        nix::unistd::initgroups(&name, self.gid)
            .with_context(|| format!("cannot set the groups of {}", self.name))?;
        nix::unistd::setresgid(self.gid, self.gid, self.gid)
            .with_context(|| format!("cannot switch to gid {}", self.gid))?;
        nix::unistd::setresuid(self.uid, self.uid, self.uid)
            .with_context(|| format!("cannot switch to user {}", self.name))?;
        caps::securebits::set_keepcaps(false).context("cannot clear keep-capabilities")?;
        for set in [CapSet::Permitted, CapSet::Effective] {
            caps::set(None, set, &kept).with_context(|| format!("cannot set the {set:?} set"))?;
        }
        caps::clear(None, CapSet::Inheritable).context("cannot clear the inheritable set")?;
        let effective = caps::read(None, CapSet::Effective).context("cannot read capabilities")?;
        if effective != kept || nix::unistd::getuid() != self.uid {
            bail!("the switch to {} did not take: {effective:?}", self.name);
        }
        tracing::info!(
            msg_id = "LH_PRIVILEGES_DROPPED",
            user = %self.name,
            uid = %self.uid,
            gid = %self.gid,
            capabilities = "CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_NET_ADMIN",
            "running unprivileged"
        );
        Ok(())
    }

    /// Fails, naming the path, when this account (now the real user) cannot
    /// read the configuration file or write the lease file's directory.
    pub(crate) fn check_files(&self, config: &Config, path: Option<&Path>) -> anyhow::Result<()> {
        if let Some(path) = path {
            access(path, AccessFlags::R_OK).with_context(|| {
                format!(
                    "user {} cannot read the configuration file {}",
                    self.name,
                    path.display()
                )
            })?;
        }
        let LeaseDatabase::Memfile(memfile) = &config.lease_database else {
            return Ok(());
        };
        if !memfile.persist {
            return Ok(());
        }
        // Lease file cleanup writes new files beside the lease file and renames them.
        let directory = match memfile.name.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        access(directory, AccessFlags::W_OK | AccessFlags::X_OK).with_context(|| {
            format!(
                "user {} cannot write the lease file's directory {} (chown it to that user)",
                self.name,
                directory.display()
            )
        })?;
        if memfile.name.exists() {
            access(&memfile.name, AccessFlags::R_OK | AccessFlags::W_OK).with_context(|| {
                format!(
                    "user {} cannot read and write the lease file {}",
                    self.name,
                    memfile.name.display()
                )
            })?;
        }
        Ok(())
    }
}

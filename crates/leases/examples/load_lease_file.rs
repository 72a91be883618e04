//! Loads a Kea lease file (and its cleanup files) and reports how long it took.
//!
//! `cargo run --release -p leasehold-leases --example load_lease_file -- /var/lib/kea/kea-leases4.csv`
//!
//! A missing lease file is refused rather than created, so that measuring writes nothing.

use std::time::Instant;

use leasehold_leases::LeaseStore;
use leasehold_leases::memfile::MemfileStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args_os().nth(1) else {
        return Err("usage: load_lease_file LEASE_FILE".into());
    };
    if !std::path::Path::new(&path).exists() {
        return Err("the lease file does not exist".into());
    }

    let started = Instant::now();
    let mut store = MemfileStore::open(path, true)?;
    let leases = store.load()?;
    println!("loaded {} leases in {:?}", leases.len(), started.elapsed());
    Ok(())
}

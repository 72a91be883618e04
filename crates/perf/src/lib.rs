//! The client side of DHCPv4 for leasehold: `leasehold perf`, a load generator in the spirit
//! of ISC's perfdhcp, and `leasehold probe`, one real exchange as a health check.
//!
//! Start with [`run::run`] (perf) and [`probe::probe`]. The protocol logic is sans-I/O: a
//! table of simulated clients ([`client::Clients`]) turns "start an exchange now" and
//! "this reply arrived now" into requests to send and statistics; a [`pacer::Pacer`] says how
//! many exchanges are due; [`report::Report`] turns the statistics into text or JSON. Only
//! [`run`] touches sockets, through the batched `sendmmsg`/`recvmmsg` wrapper in `socket`,
//! the one module with `unsafe` code.
//!
//! What it does not do: DHCPv6, raw sockets (broadcast mode is UDP from port 68 on an
//! interface), retransmissions under load (a request without a reply in time is a drop, as
//! perfdhcp counts it), or lease expiry (a run is much shorter than a lease).
//!
//! [`responder`] is a dummy DHCP "server" that answers every query without state, used to
//! measure the load generator itself when a real server would be the bottleneck.

pub mod client;
mod error;
pub mod pacer;
pub mod probe;
pub mod report;
pub mod responder;
pub mod run;
mod socket;
pub mod wire;

pub use error::Error;

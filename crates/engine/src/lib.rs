//! The DHCPv4 engine of leasehold.
//!
//! A query goes in as bytes, with the interface it arrived on and the
//! current time; an [`Outcome`] comes out: the encoded reply and where it
//! must go, and the lease changes that must be made durable before the
//! reply is sent. The engine owns the in-memory lease tables and does all
//! the deciding (subnet selection, the RFC 2131 client states, address
//! allocation, option assembly), but it opens no socket, reads no clock and
//! writes no file: the server crate does those, which keeps every decision
//! here testable with a fake clock and byte fixtures.
//!
//! Start at [`Engine::handle`].

mod admin;
mod classify;
mod engine;
mod hosts;
mod names;
mod select;
mod table;
mod wire;

pub use admin::{AdminError, PoolStatistics, SubnetStatistics};
pub use engine::{
    Arrival, CLIENT_PORT, Destination, Engine, OFFER_HOLD_SECONDS, Outcome, Reply, SERVER_PORT,
    Silence,
};
pub use table::{Client, set_allocation_seed};
pub use wire::{MalformedPacket, MessageType, Query};

#[cfg(test)]
mod tests;

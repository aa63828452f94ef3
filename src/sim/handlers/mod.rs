//! Endpoint handlers. Each works on the locked org state and returns status and JSON; the
//! HTTP plumbing (auth, limits, faults, headers) is in `server.rs`.

pub mod composite;
pub mod deploy;
pub mod inspect;
pub mod query;
pub mod sobjects;
pub mod token;

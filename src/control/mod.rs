//! The control socket: how `pauseplay pause now`, `resume`, `status` and `history` talk to
//! the daemon.
//!
//! - [`protocol`]: the versioned wire types (JSON lines); the only place they live.

pub mod protocol;

//! The daemon: its operations ([`service`]), tasks and shutdown.

pub mod service;

//! Plan reports.

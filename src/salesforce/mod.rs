//! The Salesforce client for one org.

mod version;

pub use version::{ApiVersion, InvalidApiVersion};

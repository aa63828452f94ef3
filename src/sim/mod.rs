//! The simulated Salesforce org.

pub mod soql;

//! SOQL subset.

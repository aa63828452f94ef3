//! Tolerant deserialisers for values Salesforce has been seen to send in more than one form.

use serde::{Deserialize, Deserializer};

/// A version number sent as `3` or `3.0`.
pub fn version_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let value = Option::<f64>::deserialize(deserializer)?;
    Ok(value.and_then(|number| {
        let whole = number.trunc();
        (number >= 0.0 && number == whole && whole <= f64::from(u32::MAX)).then_some(whole as u32)
    }))
}

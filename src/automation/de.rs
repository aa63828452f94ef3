//! Tolerant deserialisers for values Salesforce has been seen to send in more than one form.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A version number sent as `3` or `3.0`. Anything that is not a whole, non-negative number
/// is an error: a version to restore must never be guessed.
pub fn version_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<f64>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if number < 0.0 || number.fract() != 0.0 || number > f64::from(u32::MAX) {
        return Err(D::Error::custom(format!(
            "a flow version number must be a whole number, not {number}"
        )));
    }
    // Checked above: whole, non-negative and in range.
    Ok(Some(number as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Version {
        #[serde(deserialize_with = "version_number")]
        number: Option<u32>,
    }

    fn parse(json: &str) -> Result<Option<u32>, serde_json::Error> {
        serde_json::from_str::<Version>(json).map(|v| v.number)
    }

    #[test]
    fn whole_numbers_in_either_form_and_null_are_accepted() {
        assert_eq!(parse(r#"{"number": 3}"#).ok(), Some(Some(3)));
        assert_eq!(parse(r#"{"number": 3.0}"#).ok(), Some(Some(3)));
        assert_eq!(parse(r#"{"number": null}"#).ok(), Some(None));
    }

    #[test]
    fn fractions_and_negatives_are_errors() {
        assert!(parse(r#"{"number": 3.5}"#).is_err());
        assert!(parse(r#"{"number": -1}"#).is_err());
    }
}

//! Salesforce record ids for the simulated org.
//!
//! A Salesforce id is 15 case-sensitive characters (a 3-character key prefix naming the object
//! type, then 12 characters) optionally followed by a 3-character suffix that makes the id
//! unique when compared case-insensitively. Clients compare and store ids, so the sim hands
//! out real-looking 18-character ids with a correctly computed suffix, and it accepts the
//! 15-character form wherever Salesforce does (sobject URLs).
//!
//! Ids are allocated from per-prefix counters in scenario order, so the same scenario always
//! yields the same ids.

use std::collections::BTreeMap;

/// Key prefixes of the object types the sim serves.
pub mod prefix {
    pub const ORGANIZATION: &str = "00D";
    pub const USER: &str = "005";
    pub const FLOW_DEFINITION: &str = "300";
    pub const FLOW: &str = "301";
    pub const VALIDATION_RULE: &str = "03d";
    pub const WORKFLOW_RULE: &str = "01Q";
    pub const APEX_TRIGGER: &str = "01q";
    pub const CUSTOM_OBJECT: &str = "01I";
    /// Query cursors (`nextRecordsUrl` locators).
    pub const QUERY_LOCATOR: &str = "01g";
}

/// The 18-character id the sim gives where an object has no real id (`FlowDefinitionView.Id`).
/// [INFERRED] The reference only says `DurableId` is the FlowDefinition id to use (§3.3); an
/// all-zero `Id` makes a client that PATCHes with `Id` instead fail with 404.
pub const EMPTY_ID: &str = "000000000000000AAA";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Computes the 3-character case-safe suffix of a 15-character id: each 5-character chunk
/// contributes one character, chosen by a bitmask of which positions hold an upper-case
/// ASCII letter (bit 0 = first character of the chunk).
pub fn checksum_suffix(id15: &str) -> Option<String> {
    let bytes = id15.as_bytes();
    if bytes.len() != 15 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let suffix = bytes
        .chunks(5)
        .map(|chunk| {
            let mask = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            // `mask` < 32 because a chunk has 5 positions.
            char::from(SUFFIX_ALPHABET[mask])
        })
        .collect();
    Some(suffix)
}

/// Whether `candidate` names the record with 18-character id `id18`: either the exact
/// 18-character id, or its case-sensitive 15-character form.
pub fn matches(id18: &str, candidate: &str) -> bool {
    match candidate.len() {
        18 => candidate == id18,
        15 => id18.get(..15) == Some(candidate),
        _ => false,
    }
}

/// The 15-character form of an id (the access token starts with the org's).
pub fn short(id18: &str) -> &str {
    id18.get(..15).unwrap_or(id18)
}

/// Hands out ids per key prefix, deterministically.
#[derive(Debug, Clone, Default)]
pub struct IdAllocator {
    next: BTreeMap<&'static str, u64>,
}

impl IdAllocator {
    /// The next id with `key_prefix` (one of [`prefix`]).
    pub fn next(&mut self, key_prefix: &'static str) -> String {
        let counter = self.next.entry(key_prefix).or_insert(0);
        *counter += 1;
        make_id(key_prefix, *counter)
    }
}

/// Builds the id number `n` for `key_prefix`: prefix, a fixed two-character pod, zeros, then
/// five base-62 characters. The counter is spread with a multiplier so that ids carry mixed
/// case (exercising the suffix) instead of counting `...00001`, `...00002`.
fn make_id(key_prefix: &str, n: u64) -> String {
    const POD: &str = "Dn";
    let mut value = n.wrapping_mul(7_919).wrapping_add(104_729) % 62u64.pow(5);
    let mut tail = [b'0'; 5];
    for slot in tail.iter_mut().rev() {
        // `value % 62` < 62, so the index is in range.
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    let mut id15 = String::with_capacity(18);
    id15.push_str(key_prefix);
    id15.push_str(POD);
    id15.push_str("00000");
    id15.extend(tail.iter().map(|b| char::from(*b)));
    let suffix = checksum_suffix(&id15).unwrap_or_else(|| "AAA".to_owned());
    id15 + &suffix
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn suffix_follows_the_chunk_bitmask() {
        // An id without upper-case letters has suffix AAA; each upper-case letter sets the bit
        // of its position within its 5-character chunk: "001A0" -> bit 3 -> 'I',
        // "6Vm9r" -> bit 1 -> 'C', "5QB3A" -> bits 1, 2, 4 -> 22 -> 'W'.
        assert_eq!(checksum_suffix("000000000000000").as_deref(), Some("AAA"));
        assert_eq!(checksum_suffix("001A0000006Vm9r").as_deref(), Some("IAC"));
        assert_eq!(checksum_suffix("003A0000005QB3A").as_deref(), Some("IAW"));
        assert_eq!(checksum_suffix("ZZZZZZZZZZZZZZZ").as_deref(), Some("555"));
        assert_eq!(checksum_suffix("short"), None);
    }

    #[test]
    fn ids_are_deterministic_well_formed_and_distinct() {
        let mut a = IdAllocator::default();
        let mut b = IdAllocator::default();
        let first: Vec<String> = (0..50).map(|_| a.next(prefix::FLOW)).collect();
        let second: Vec<String> = (0..50).map(|_| b.next(prefix::FLOW)).collect();
        assert_eq!(first, second);
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 50);
        for id in &first {
            assert_eq!(id.len(), 18);
            assert!(id.starts_with("301"));
            assert_eq!(checksum_suffix(&id[..15]).as_deref(), Some(&id[15..]));
            assert!(matches(id, &id[..15]));
            assert!(matches(id, id));
            assert!(!matches(id, &id[..15].to_lowercase()));
        }
    }
}

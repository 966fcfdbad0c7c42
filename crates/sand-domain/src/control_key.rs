//! The 8-character control key (clé de contrôle) a graduate gives a third party.
//!
//! Eight characters of Crockford's base 32 alphabet (digits and upper-case letters without
//! I, L, O and U), that is 40 random bits drawn by a [`crate::ports::KeyGenerator`]
//! backed by a cryptographic RNG. A key alone reveals nothing: verification also needs
//! the holder's name, and unknown keys and wrong names get the same answer.

use std::fmt;

/// Crockford's base 32 alphabet: no I, L, O or U, so no character can be read as another.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of characters in a key.
pub const KEY_LENGTH: usize = 8;

/// Random bytes that make one key (8 × 5 bits).
pub const KEY_BYTES: usize = 5;

/// Longest input [`ControlKey::parse`] looks at, so that hostile input costs nothing.
const MAX_INPUT_CHARS: usize = 64;

/// Why a typed key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlKeyError {
    #[error("a control key has {KEY_LENGTH} characters")]
    WrongLength,
    #[error("a control key has only letters and digits")]
    InvalidCharacter,
}

/// A control key. `Debug` does not print it (keys are bearer secrets for verification).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ControlKey([u8; KEY_LENGTH]);

impl ControlKey {
    /// Builds the key carried by 40 random bits.
    #[must_use]
    pub fn from_random_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        // the 40 bits, big-endian, in the low bits of a u64
        let mut be = [0u8; 8];
        be[8 - KEY_BYTES..].copy_from_slice(&bytes);
        let bits = u64::from_be_bytes(be);
        let mut out = [0u8; KEY_LENGTH];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (KEY_LENGTH - 1 - i);
            // masked to 5 bits: always a valid index into the 32-entry alphabet
            let index = usize::try_from((bits >> shift) & 0x1f).unwrap_or(0);
            *slot = ALPHABET[index];
        }
        Self(out)
    }

    /// Reads a key as a person typed it: case, spaces, hyphens and dots are ignored;
    /// `O` reads as `0`, `I` and `L` as `1` (Crockford's rules); `U` is refused.
    ///
    /// ```
    /// use sand_domain::control_key::ControlKey;
    /// let key = ControlKey::parse("ab1c-odef").unwrap();
    /// assert_eq!(key.as_str(), "AB1C0DEF");
    /// assert_eq!(key.grouped(), "AB1C 0DEF");
    /// assert!(ControlKey::parse("ABCDEFGU").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ControlKeyError::WrongLength`] unless exactly 8 key characters remain,
    /// [`ControlKeyError::InvalidCharacter`] for anything that is not a key character.
    pub fn parse(input: &str) -> Result<Self, ControlKeyError> {
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(ControlKeyError::WrongLength);
        }
        let mut out = [0u8; KEY_LENGTH];
        let mut len = 0;
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, '-' | '.' | '_' | '‐' | '‑' | '–') {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let byte = u8::try_from(c).map_err(|_| ControlKeyError::InvalidCharacter)?;
            if !ALPHABET.contains(&byte) {
                return Err(ControlKeyError::InvalidCharacter);
            }
            if len == KEY_LENGTH {
                return Err(ControlKeyError::WrongLength);
            }
            out[len] = byte;
            len += 1;
        }
        if len != KEY_LENGTH {
            return Err(ControlKeyError::WrongLength);
        }
        Ok(Self(out))
    }

    /// The canonical 8 characters, `"7K3M9Q2T"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // only ALPHABET bytes are ever stored: always ASCII
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Two groups of four for reading aloud and printing: `"7K3M 9Q2T"`.
    #[must_use]
    pub fn grouped(&self) -> String {
        let s = self.as_str();
        format!("{} {}", &s[..4], &s[4..])
    }
}

impl fmt::Display for ControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlKey(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn random_bytes_become_keys_as_crockford_base32_reads_them() {
        // known vectors: 40 bits, most significant first, five at a time
        for (bytes, key) in [
            ([0x01, 0x23, 0x45, 0x67, 0x89], "04HMASW9"),
            ([0xde, 0xad, 0xbe, 0xef, 0x42], "VTPVXVT2"),
            ([0x80, 0x00, 0x00, 0x00, 0x01], "G0000001"),
        ] {
            assert_eq!(ControlKey::from_random_bytes(bytes).as_str(), key);
        }
        // every 5-bit value, at every position, is its own character: the 32 characters
        // are all reachable and distinct (40 random bits give 2^40 equally likely keys)
        for value in 0..32u64 {
            let mut bits = 0u64;
            for _ in 0..KEY_LENGTH {
                bits = (bits << 5) | value;
            }
            let bytes: [u8; KEY_BYTES] = bits.to_be_bytes()[8 - KEY_BYTES..].try_into().unwrap();
            let expected = char::from(ALPHABET[usize::try_from(value).unwrap()]);
            assert_eq!(
                ControlKey::from_random_bytes(bytes).as_str(),
                expected.to_string().repeat(KEY_LENGTH)
            );
        }
        let distinct: std::collections::HashSet<u8> = ALPHABET.iter().copied().collect();
        assert_eq!(distinct.len(), 32);
    }

    #[test]
    fn typed_input_is_bounded_at_its_limit_exactly() {
        let padded = |len: usize| format!("{}{}", "7K3M9QXR", " ".repeat(len - KEY_LENGTH));
        assert!(ControlKey::parse(&padded(MAX_INPUT_CHARS)).is_ok());
        assert_eq!(
            ControlKey::parse(&padded(MAX_INPUT_CHARS + 1)),
            Err(ControlKeyError::WrongLength)
        );
        assert_eq!(
            ControlKey::parse(&padded(MAX_INPUT_CHARS + 2)),
            Err(ControlKeyError::WrongLength)
        );
    }

    #[test]
    fn a_key_displays_as_its_characters_and_never_debugs_them() {
        let key = ControlKey::parse("7k3m-9qxr").unwrap();
        assert_eq!(key.to_string(), "7K3M9QXR");
        assert_eq!(format!("{key:?}"), "ControlKey(********)");
    }

    #[test]
    fn keys_are_eight_unambiguous_characters() {
        let key = ControlKey::from_random_bytes([0, 0, 0, 0, 0]);
        assert_eq!(key.as_str(), "00000000");
        let key = ControlKey::from_random_bytes([0xff; KEY_BYTES]);
        assert_eq!(key.as_str(), "ZZZZZZZZ");
        let key = ControlKey::from_random_bytes([0x12, 0x34, 0x56, 0x78, 0x9a]);
        assert_eq!(key.as_str().len(), KEY_LENGTH);
        assert_eq!(key.grouped().len(), KEY_LENGTH + 1);
    }

    #[test]
    fn typing_noise_and_confusable_letters_are_tolerated() {
        let key = ControlKey::parse("AB1C0DEF").unwrap();
        for typed in [
            "ab1c0def",
            " AB1C-0DEF ",
            "abic odef",
            "ABLC.ODEF",
            "ab1c\t0def",
        ] {
            assert_eq!(ControlKey::parse(typed), Ok(key), "{typed:?}");
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(ControlKey::parse(""), Err(ControlKeyError::WrongLength));
        assert_eq!(
            ControlKey::parse("ABCDEFG"),
            Err(ControlKeyError::WrongLength)
        );
        assert_eq!(
            ControlKey::parse("ABCDEFGHJ"),
            Err(ControlKeyError::WrongLength)
        );
        assert_eq!(
            ControlKey::parse("ABCDEFGU"),
            Err(ControlKeyError::InvalidCharacter)
        );
        assert_eq!(
            ControlKey::parse("ABCD%FGH"),
            Err(ControlKeyError::InvalidCharacter)
        );
        assert_eq!(
            ControlKey::parse("ABCDÉFGH"),
            Err(ControlKeyError::InvalidCharacter)
        );
        assert_eq!(
            ControlKey::parse(&"A".repeat(1_000_000)),
            Err(ControlKeyError::WrongLength)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let key = ControlKey::parse("AB1C0DEF").unwrap();
        assert!(!format!("{key:?}").contains("AB1C"));
    }

    proptest! {
        #[test]
        fn every_generated_key_parses_back(bytes in any::<[u8; KEY_BYTES]>()) {
            let key = ControlKey::from_random_bytes(bytes);
            prop_assert_eq!(ControlKey::parse(key.as_str()), Ok(key));
            prop_assert_eq!(ControlKey::parse(&key.grouped().to_lowercase()), Ok(key));
        }

        #[test]
        fn distinct_bits_give_distinct_keys(a in any::<[u8; KEY_BYTES]>(), b in any::<[u8; KEY_BYTES]>()) {
            prop_assert_eq!(a == b, ControlKey::from_random_bytes(a) == ControlKey::from_random_bytes(b));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = ControlKey::parse(&s);
        }
    }
}

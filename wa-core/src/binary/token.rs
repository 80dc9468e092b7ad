//! The version-3 token dictionaries (facts from `tokens.txt`) and the string -> token lookup.
//!
//! `build.rs` turns `tokens.txt` into the arrays below and an open-addressed hash table, so
//! a lookup is one hash over the (short) string plus, usually, one comparison.

#[cfg(test)]
use super::token_hash::token_hash;
use super::token_hash::{TOKEN_SLOTS, hash_words, head_tail};

include!(concat!(env!("OUT_DIR"), "/tokens.rs"));

/// Dictionary version these tables belong to (byte 3 of the connection header).
pub const DICT_VERSION: u8 = 3;

/// Where a string sits in the dictionaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    /// Single-byte token `1..=235`.
    Single(u8),
    /// Double-byte token: dictionary `0..=3` and index in it.
    Double(u8, u8),
}

impl Token {
    fn from_code(code: u16) -> Token {
        if code < 0x100 {
            Token::Single(code as u8)
        } else {
            Token::Double(((code >> 8) - 1) as u8, (code & 0xff) as u8)
        }
    }

    /// The token's string.
    pub fn as_str(self) -> &'static str {
        match self {
            Token::Single(i) => SINGLE_BYTE_TOKENS
                .get(usize::from(i))
                .copied()
                .unwrap_or(""),
            Token::Double(d, i) => DOUBLE_BYTE_TOKENS
                .get(usize::from(d))
                .map_or("", |dict| dict[usize::from(i)]),
        }
    }
}

/// Finds the token for `s`, with Baileys' precedence (a double-byte entry would win over an
/// equal single-byte one; the v3 tables have no such duplicates).
///
/// ```
/// use wa_core::binary::token::{lookup, Token};
/// assert_eq!(lookup("iq"), Some(Token::Single(25)));
/// assert_eq!(lookup("retry"), Some(Token::Double(0, 11)));
/// assert_eq!(lookup("no-such-token"), None);
/// ```
#[inline]
pub fn lookup(s: &str) -> Option<Token> {
    let (Some(&first), true) = (s.as_bytes().first(), s.len() <= MAX_TOKEN_LEN) else {
        return None;
    };
    if FIRST_BYTE_LENS[usize::from(first)] >> s.len() & 1 == 0 {
        return None;
    }
    let mask = TOKEN_SLOTS - 1;
    let (head, tail) = head_tail(s.as_bytes());
    let mut h = hash_words(s.len(), head, tail) & mask;
    loop {
        let code = SLOTS[h];
        if code == 0 {
            return None;
        }
        let token = Token::from_code(code);
        let t = token.as_str().as_bytes();
        // Short strings compare as two words (no `memcmp` call).
        let equal = t.len() == s.len()
            && if s.len() <= 16 {
                head_tail(t) == (head, tail)
            } else {
                t == s.as_bytes()
            };
        if equal {
            return Some(token);
        }
        h = (h + 1) & mask;
    }
}

/// The single-byte token at `index`, if `1 <= index <= 235`.
#[inline]
pub fn single(index: u8) -> Option<&'static str> {
    match index {
        0 => None,
        i => SINGLE_BYTE_TOKENS.get(usize::from(i)).copied(),
    }
}

/// The double-byte token at `index` of dictionary `dict` (`0..=3`).
#[inline]
pub fn double(dict: u8, index: u8) -> Option<&'static str> {
    DOUBLE_BYTE_TOKENS
        .get(usize::from(dict))
        .map(|d| d[usize::from(index)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_is_found_at_its_own_index() {
        for (i, t) in SINGLE_BYTE_TOKENS.iter().enumerate().skip(1) {
            assert_eq!(lookup(t), Some(Token::Single(i as u8)), "{t}");
        }
        for (d, dict) in DOUBLE_BYTE_TOKENS.iter().enumerate() {
            for (i, t) in dict.iter().enumerate() {
                assert_eq!(lookup(t), Some(Token::Double(d as u8, i as u8)), "{t}");
            }
        }
    }

    #[test]
    fn tables_have_the_documented_landmarks() {
        assert_eq!(SINGLE_BYTE_TOKENS[3], "s.whatsapp.net");
        assert_eq!(SINGLE_BYTE_TOKENS[235], "screen_height");
        assert_eq!(DOUBLE_BYTE_TOKENS[0][0], "read-self");
        assert_eq!(DOUBLE_BYTE_TOKENS[3][0], "1724");
        assert_eq!(lookup("pair-device"), Some(Token::Double(1, 238)));
    }

    #[test]
    fn probe_chains_are_short() {
        // Every token is found within a few slots of its hash.
        let mask = TOKEN_SLOTS - 1;
        let mut total = 0;
        for code in SLOTS.iter().copied().filter(|&c| c != 0) {
            let s = Token::from_code(code).as_str();
            let mut h = token_hash(s.as_bytes()) & mask;
            let mut probes = 1;
            while SLOTS[h] != code {
                h = (h + 1) & mask;
                probes += 1;
            }
            total += probes;
        }
        let average = total as f64 / 1259.0;
        assert!(average < 1.4, "average probe length {average}");
    }

    #[test]
    fn empty_and_unknown_strings_are_not_tokens() {
        assert_eq!(lookup(""), None);
        assert_eq!(lookup("pair-success"), None);
        assert_eq!(lookup(&"x".repeat(200)), None);
    }
}

//! The hash of the token lookup table; shared with `build.rs`, which lays the table out.

/// Number of slots in the open-addressed token table (a power of two, ~3.3x the token count
/// so that probe chains stay short).
pub const TOKEN_SLOTS: usize = 4096;

/// Eight bytes read at `s[at..at + 8]` (callers guarantee the bounds).
fn word(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The first and last (up to) eight bytes of `s` as integers, with fixed-size loads only (a variable-size
/// copy would cost a `memcpy` call per lookup).
pub fn head_tail(s: &[u8]) -> (u64, u64) {
    let n = s.len();
    if n >= 8 {
        (word(s, 0), word(s, n - 8))
    } else if n >= 4 {
        let a = u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
        let b = u64::from(u32::from_le_bytes([s[n - 4], s[n - 3], s[n - 2], s[n - 1]]));
        (a, b)
    } else if n > 0 {
        let v = u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16;
        (v, v)
    } else {
        (0, 0)
    }
}

/// Constant-time hash of the length and the first and last (up to) eight bytes: strings are hashed
/// before we know whether they are tokens, so long ones must not cost more.
// The library looks up with `hash_words` (reusing the words for the comparison); `build.rs`
// and the tests hash whole strings.
#[allow(dead_code)]
pub fn token_hash(s: &[u8]) -> usize {
    let (head, tail) = head_tail(s);
    hash_words(s.len(), head, tail)
}

/// [`token_hash`] from the length and [`head_tail`] words.
pub fn hash_words(len: usize, head: u64, tail: u64) -> usize {
    let h = (head ^ (len as u64).rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ tail.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let h = (h ^ (h >> 32)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    // Multiplicative hashing: the top bits are the well-mixed ones.
    (h >> (64 - TOKEN_SLOTS.trailing_zeros())) as usize
}

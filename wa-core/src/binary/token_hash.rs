//! The hash of the token lookup table; shared with `build.rs`, which lays the table out.

/// Number of slots in the open-addressed token table (a power of two, ~3.3x the token count
/// so that probe chains stay short).
pub const TOKEN_SLOTS: usize = 4096;

/// FNV-1a over the bytes, seeded with the length.
pub fn token_hash(s: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5 ^ (s.len() as u32);
    for &b in s {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 15)) as usize
}

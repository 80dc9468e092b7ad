//! Message ids in WhatsApp Web's form: `3EB0` followed by 18 uppercase hex digits.
//!
//! We follow Baileys' `generateMessageIDV2`: SHA-256 over a 44-byte buffer holding the unix
//! time in seconds (8 bytes BE) at offset 0, `<own user>@c.us` at offset 8 (zeros when unknown
//! or cut at offset 28), and 16 random bytes at offset 28; the id is `3EB0` + the first 9 bytes
//! of the hash in uppercase hex (22 characters). whatsmeow's `GenerateMessageID` hashes the
//! same items concatenated without the fixed layout; the server checks neither.

use rand_core::{CryptoRng, RngCore};

use crate::crypto::sha256;

/// The prefix of ids sent by WhatsApp Web companions.
pub const MESSAGE_ID_PREFIX: &str = "3EB0";

/// The id for time `now` (unix seconds), our user part (`"6281234"`, without server or device)
/// and 16 random bytes.
///
/// ```
/// let id = wa_core::message::message_id(1_700_000_000, Some("6281234"), &[0; 16]);
/// assert_eq!(id.len(), 22);
/// assert!(id.starts_with("3EB0"));
/// ```
pub fn message_id(now: u64, own_user: Option<&str>, random: &[u8; 16]) -> String {
    let mut data = [0u8; 44];
    data[..8].copy_from_slice(&now.to_be_bytes());
    if let Some(user) = own_user.filter(|u| !u.is_empty()) {
        // Like Node's Buffer.write: whatever does not fit before the random part is dropped.
        let tagged = [user.as_bytes(), b"@c.us"].concat();
        let n = tagged.len().min(20);
        data[8..8 + n].copy_from_slice(&tagged[..n]);
    }
    data[28..].copy_from_slice(random);
    let hash = sha256(&data);
    let mut id = String::with_capacity(22);
    id.push_str(MESSAGE_ID_PREFIX);
    for b in &hash[..9] {
        id.push_str(&format!("{b:02X}"));
    }
    id
}

/// A fresh id: [`message_id`] with 16 bytes from `rng`.
pub fn new_message_id<R: RngCore + CryptoRng>(
    rng: &mut R,
    now: u64,
    own_user: Option<&str>,
) -> String {
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    message_id(now, own_user, &random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_matches_an_independent_computation_of_baileys_layout() {
        // Python: sha256(struct.pack(">Q", 1700000000) + b"6281234@c.us".ljust(20, b"\0")
        //   + bytes(range(16))).hexdigest().upper()[:18]
        let random: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            message_id(1_700_000_000, Some("6281234"), &random),
            "3EB01CE6F2FDEECEAA415F"
        );
    }

    #[test]
    fn ids_are_uppercase_hex_after_the_prefix() {
        let id = message_id(1, None, &[0xAB; 16]);
        assert_eq!(id.len(), 22);
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
    }

    #[test]
    fn different_random_bytes_give_different_ids() {
        assert_ne!(
            message_id(5, Some("1"), &[1; 16]),
            message_id(5, Some("1"), &[2; 16])
        );
    }

    #[test]
    fn a_long_user_does_not_overwrite_the_random_part() {
        let long = "1".repeat(40);
        assert_ne!(
            message_id(5, Some(&long), &[1; 16]),
            message_id(5, Some(&long), &[2; 16])
        );
    }
}

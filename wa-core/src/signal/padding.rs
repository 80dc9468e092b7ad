//! WhatsApp's plaintext padding (`v="2"` payloads): 1 to 16 bytes, each equal to the count,
//! appended to the serialized `Message` before Signal encryption and stripped after.
//! This is separate from, and in addition to, the PKCS#7 padding inside AES-CBC.

use rand_core::RngCore;

use super::SignalError;

/// Appends 1..=16 padding bytes (the count drawn from `rng`), each equal to the count.
///
/// ```
/// use wa_core::signal::{pad_message, unpad_message};
/// let padded = pad_message(b"hello", &mut rand::rngs::OsRng);
/// assert!((6..=21).contains(&padded.len()));
/// assert_eq!(unpad_message(&padded).unwrap(), b"hello");
/// ```
pub fn pad_message<R: RngCore>(plaintext: &[u8], rng: &mut R) -> Vec<u8> {
    let mut byte = [0u8; 1];
    rng.fill_bytes(&mut byte);
    let n = (byte[0] & 0x0F) + 1;
    let mut out = Vec::with_capacity(plaintext.len() + usize::from(n));
    out.extend_from_slice(plaintext);
    out.resize(plaintext.len() + usize::from(n), n);
    out
}

/// Removes WhatsApp padding: the last byte `n` (1..=255) says how many bytes to strip, and
/// all of them must equal `n`.
pub fn unpad_message(padded: &[u8]) -> Result<&[u8], SignalError> {
    let &n = padded.last().ok_or(SignalError::BadPadding)?;
    let n = usize::from(n);
    if n == 0 || n > padded.len() {
        return Err(SignalError::BadPadding);
    }
    let (body, pad) = padded.split_at(padded.len() - n);
    if pad.iter().any(|&b| usize::from(b) != n) {
        return Err(SignalError::BadPadding);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_length_stays_within_one_to_sixteen() {
        let mut rng = rand::rngs::OsRng;
        for _ in 0..200 {
            let p = pad_message(b"abc", &mut rng);
            let n = p.len() - 3;
            assert!((1..=16).contains(&n));
            assert!(p[3..].iter().all(|&b| usize::from(b) == n));
        }
    }

    #[test]
    fn unpad_accepts_whatsmeow_style_long_padding() {
        let mut p = b"x".to_vec();
        p.extend([20u8; 20]);
        assert_eq!(unpad_message(&p).unwrap(), b"x");
    }

    #[test]
    fn unpad_rejects_empty_zero_and_inconsistent_padding() {
        assert!(unpad_message(b"").is_err());
        assert!(unpad_message(b"ab\x00").is_err());
        assert!(unpad_message(b"a\x01\x02").is_err());
        assert!(unpad_message(b"\x05\x05").is_err());
    }
}

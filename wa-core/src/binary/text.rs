//! [`Text`]: the string type of nodes; borrowed from the input when the wire holds the raw
//! UTF-8 (or a token), stored inline when short, and heap-allocated only when long.
//!
//! Packed (nibble/hex) strings and JIDs have to be rebuilt from the wire, so they cannot borrow;
//! most of them (ids, timestamps, phone and device JIDs) fit the inline buffer, which keeps
//! decoding free of per-string allocations.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// Bytes a [`Text`] stores without allocating.
pub const INLINE_CAP: usize = 30;

/// A node string: tag, attribute key or value, or string content.
///
/// ```
/// use wa_core::binary::Text;
/// let t = Text::from("iq");
/// assert_eq!(t, "iq");
/// assert_eq!(t.len(), 2);
/// ```
#[derive(Clone)]
pub struct Text<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a str),
    Inline(u8, [u8; INLINE_CAP]),
    Owned(String),
}

impl<'a> Text<'a> {
    /// The empty string.
    pub const EMPTY: Text<'static> = Text(Repr::Borrowed(""));

    /// Borrows `s`.
    pub const fn borrowed(s: &'a str) -> Self {
        Text(Repr::Borrowed(s))
    }

    /// Copies `s` (inline when short).
    pub fn copied(s: &str) -> Text<'static> {
        let mut b = TextBuf::new();
        b.push_str(s);
        b.finish()
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Borrowed(s) => s,
            // Inline bytes are only ever copied from whole `str`s, so this cannot fail.
            Repr::Inline(len, buf) => std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or(""),
            Repr::Owned(s) => s,
        }
    }

    /// Detaches the text from the input buffer.
    pub fn into_owned(self) -> Text<'static> {
        match self.0 {
            Repr::Borrowed(s) => Text::copied(s),
            Repr::Inline(len, buf) => Text(Repr::Inline(len, buf)),
            Repr::Owned(s) => Text(Repr::Owned(s)),
        }
    }

    /// Whether the text points into the decoded input (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Repr::Borrowed(_))
    }
}

impl Deref for Text<'_> {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text::borrowed(s)
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text(Repr::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Text<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Text::borrowed(s),
            Cow::Owned(s) => Text::from(s),
        }
    }
}

impl From<&String> for Text<'static> {
    fn from(s: &String) -> Self {
        Text::copied(s)
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Text<'_> {}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Text<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Text<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Text<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Default for Text<'_> {
    fn default() -> Self {
        Text::borrowed("")
    }
}

/// Builds a [`Text`] piece by piece, inline until it outgrows [`INLINE_CAP`].
pub(crate) struct TextBuf {
    len: usize,
    inline: [u8; INLINE_CAP],
    heap: Option<String>,
}

impl TextBuf {
    pub(crate) fn new() -> Self {
        TextBuf {
            len: 0,
            inline: [0; INLINE_CAP],
            heap: None,
        }
    }

    /// Pushes ASCII bytes (callers guarantee ASCII, so every prefix stays valid UTF-8).
    #[inline]
    pub(crate) fn push_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        if let Some(h) = &mut self.heap {
            h.push(char::from(b));
        } else if self.len < INLINE_CAP {
            self.inline[self.len] = b;
            self.len += 1;
        } else {
            self.spill(1).push(char::from(b));
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        if let Some(h) = &mut self.heap {
            h.push_str(s);
        } else if self.len + s.len() <= INLINE_CAP {
            self.inline[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            self.spill(s.len()).push_str(s);
        }
    }

    /// Pushes the decimal form of `n`.
    pub(crate) fn push_u32(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.push_ascii(d);
        }
    }

    fn spill(&mut self, extra: usize) -> &mut String {
        let mut s = String::with_capacity(self.len + extra + 16);
        s.push_str(std::str::from_utf8(&self.inline[..self.len]).unwrap_or(""));
        self.heap.insert(s)
    }

    pub(crate) fn finish(self) -> Text<'static> {
        match self.heap {
            Some(h) => Text(Repr::Owned(h)),
            None => Text(Repr::Inline(self.len as u8, self.inline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_stay_inline_and_long_ones_spill() {
        let short = Text::copied("123456789:12@s.whatsapp.net");
        assert!(matches!(short.0, Repr::Inline(..)));
        assert_eq!(short, "123456789:12@s.whatsapp.net");
        let long = Text::copied(&"y".repeat(INLINE_CAP + 1));
        assert!(matches!(long.0, Repr::Owned(_)));
        assert_eq!(long.len(), INLINE_CAP + 1);
    }

    #[test]
    fn text_buf_spills_in_the_middle_of_pushes() {
        let mut b = TextBuf::new();
        b.push_str(&"a".repeat(INLINE_CAP - 1));
        b.push_u32(4_294_967_295);
        b.push_ascii(b'@');
        let t = b.finish();
        assert_eq!(
            t.as_str(),
            format!("{}4294967295@", "a".repeat(INLINE_CAP - 1))
        );
    }

    #[test]
    fn multibyte_utf8_is_preserved() {
        assert_eq!(Text::copied("héllo wörld"), "héllo wörld");
    }
}

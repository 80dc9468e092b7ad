//! [`Text`]: the string type of nodes; borrowed from the input when the wire holds the raw
//! UTF-8 (or a token), stored inline when short, and heap-allocated only when long.
//!
//! Packed (nibble/hex) strings and JIDs have to be rebuilt from the wire, so they cannot borrow;
//! nearly all of them (ids, timestamps, phone, LID and device JIDs) fit the 38-byte inline
//! buffer, which keeps decoding free of per-string allocations.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// Bytes a [`Text`] stores without allocating.
pub const INLINE_CAP: usize = 38;

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
    Owned(Box<str>),
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
        let mut t = Text::EMPTY;
        let mut b = TextWriter::new(&mut t);
        b.push_str(s);
        b.finish();
        t
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

    /// The UTF-8 bytes, without re-checking inline storage.
    #[inline]
    pub(crate) fn raw_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Borrowed(s) => s.as_bytes(),
            Repr::Inline(len, buf) => &buf[..usize::from(*len)],
            Repr::Owned(s) => s.as_bytes(),
        }
    }

    /// The text of `buf[..len]` (UTF-8). When `buf` holds at least [`INLINE_CAP`] bytes the
    /// inline copy is fixed-size (no `memcpy` call); bytes past `len` ride along unused.
    #[inline]
    pub(crate) fn from_padded(buf: &[u8], len: usize) -> Text<'static> {
        if len <= INLINE_CAP && buf.len() >= INLINE_CAP {
            let mut inline = [0u8; INLINE_CAP];
            inline.copy_from_slice(&buf[..INLINE_CAP]);
            Text(Repr::Inline(len as u8, inline))
        } else {
            let bytes = &buf[..len.min(buf.len())];
            Text(Repr::Owned(match std::str::from_utf8(bytes) {
                Ok(s) => s.into(),
                Err(_) => String::from_utf8_lossy(bytes).into(),
            }))
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
        Text(Repr::Owned(s.into_boxed_str()))
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

/// Builds a [`Text`] piece by piece, writing straight into its destination's inline buffer
/// and spilling to the heap only past [`INLINE_CAP`] (building elsewhere and moving the
/// result would reload freshly written bytes, a store-forwarding stall).
///
/// Callers push whole UTF-8 strings or ASCII bytes, so the result is valid UTF-8.
pub(crate) struct TextWriter<'t, 'a> {
    out: &'t mut Text<'a>,
    len: usize,
    heap: Vec<u8>,
}

impl<'t, 'a> TextWriter<'t, 'a> {
    /// Starts an empty text in `out`.
    #[inline]
    pub(crate) fn new(out: &'t mut Text<'a>) -> Self {
        *out = Text(Repr::Inline(0, [0; INLINE_CAP]));
        TextWriter {
            out,
            len: 0,
            heap: Vec::new(),
        }
    }

    #[inline]
    fn push_bytes(&mut self, b: &[u8]) {
        if self.heap.is_empty() && self.len + b.len() <= INLINE_CAP {
            if let Repr::Inline(_, buf) = &mut self.out.0 {
                buf[self.len..self.len + b.len()].copy_from_slice(b);
            }
            self.len += b.len();
        } else {
            if self.heap.is_empty() {
                self.heap.reserve(self.len + b.len() + 16);
                if let Repr::Inline(_, buf) = &self.out.0 {
                    self.heap.extend_from_slice(&buf[..self.len]);
                }
            }
            self.heap.extend_from_slice(b);
        }
    }

    /// Bytes so far.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        if self.heap.is_empty() {
            self.len
        } else {
            self.heap.len()
        }
    }

    /// Pushes one byte of a packed string (ASCII, or NUL for a nibble filler).
    #[inline]
    pub(crate) fn push_ascii_raw(&mut self, b: u8) {
        if self.heap.is_empty() && self.len < INLINE_CAP {
            if let Repr::Inline(_, buf) = &mut self.out.0 {
                buf[self.len] = b;
            }
            self.len += 1;
        } else {
            self.push_bytes(&[b]);
        }
    }

    /// Pushes two bytes of a packed string.
    #[inline]
    pub(crate) fn push_pair(&mut self, a: u8, b: u8) {
        if self.heap.is_empty() && self.len + 2 <= INLINE_CAP {
            if let Repr::Inline(_, buf) = &mut self.out.0 {
                buf[self.len] = a;
                buf[self.len + 1] = b;
            }
            self.len += 2;
        } else {
            self.push_bytes(&[a, b]);
        }
    }

    /// Pushes one ASCII byte.
    #[inline]
    pub(crate) fn push_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push_ascii_raw(b);
    }

    /// Pushes a string.
    #[inline]
    pub(crate) fn push_str(&mut self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    /// Pushes the text of `t`.
    #[inline]
    pub(crate) fn push_text(&mut self, t: &Text<'_>) {
        self.push_bytes(t.raw_bytes());
    }

    /// Pushes the decimal form of `n`.
    #[inline]
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
        self.push_bytes(&digits[i..]);
    }

    /// Completes the text.
    #[inline]
    pub(crate) fn finish(self) {
        if self.heap.is_empty() {
            if let Repr::Inline(len, _) = &mut self.out.0 {
                *len = self.len as u8;
            }
        } else {
            let s = match String::from_utf8(self.heap) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            *self.out = Text(Repr::Owned(s.into_boxed_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_stay_inline_and_long_ones_spill() {
        let short = Text::copied("123456789:12@lid");
        assert!(matches!(short.0, Repr::Inline(..)));
        assert_eq!(short, "123456789:12@lid");
        let long = Text::copied(&"y".repeat(INLINE_CAP + 1));
        assert!(matches!(long.0, Repr::Owned(_)));
        assert_eq!(long.len(), INLINE_CAP + 1);
    }

    #[test]
    fn text_writer_spills_in_the_middle_of_pushes() {
        let mut t = Text::EMPTY;
        let mut b = TextWriter::new(&mut t);
        b.push_str(&"a".repeat(INLINE_CAP - 1));
        b.push_u32(4_294_967_295);
        b.push_ascii(b'@');
        b.finish();
        assert_eq!(
            t.as_str(),
            format!("{}4294967295@", "a".repeat(INLINE_CAP - 1))
        );
    }

    #[test]
    fn text_is_five_words() {
        // Inline room for PN device JIDs ("<15 digits>:<2 digits>@s.whatsapp.net").
        assert_eq!(std::mem::size_of::<Text<'_>>(), 40);
        assert!("123456789012345:99@s.whatsapp.net".len() <= INLINE_CAP);
    }

    #[test]
    fn multibyte_utf8_is_preserved() {
        assert_eq!(Text::copied("héllo wörld"), "héllo wörld");
    }
}

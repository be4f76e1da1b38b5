//! A small byte codec for what is held in memory by the thousand: varints, optional text with
//! repeats written once, timestamps. The compact forms of an Application
//! ([`crate::compact`]) and of a drift record ([`crate::history::packed`]) are built on it.
//!
//! Only bytes written by [`Writer`] are ever read by [`Reader`], in the same process, so the
//! format has no version and may change freely; a read past the end, or a reference to text not
//! yet written, is a bug and reads as `None`.

use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Words that are the same in every value of a kind (kinds, groups, statuses): written as one
/// byte or two, shared by every value instead of repeated in each.
pub struct Dictionary {
    words: &'static [&'static str],
    index: OnceLock<HashMap<&'static str, u64>>,
}

impl Dictionary {
    pub const fn new(words: &'static [&'static str]) -> Self {
        Dictionary {
            words,
            index: OnceLock::new(),
        }
    }

    fn find(&self, s: &str) -> Option<u64> {
        self.index
            .get_or_init(|| {
                (0..)
                    .zip(self.words.iter().copied())
                    .map(|(i, w)| (w, i))
                    .collect()
            })
            .get(s)
            .copied()
    }

    fn len(&self) -> u64 {
        self.words.len() as u64
    }
}

static EMPTY: Dictionary = Dictionary::new(&[]);

/// Appends values to a buffer. Text seen before in the same buffer, or in the dictionary, is
/// written as a reference.
pub struct Writer<'a> {
    out: Vec<u8>,
    seen: HashMap<&'a str, u64>,
    dictionary: &'static Dictionary,
}

/// Reads values back in the order they were written, with the writer's dictionary.
pub struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
    /// Text already read, by position, for references.
    seen: Vec<(usize, usize)>,
    dictionary: &'static Dictionary,
}

// Text tags: 0 absent; 1 new text follows (length, bytes); 2 + i the dictionary's ith word;
// 2 + (dictionary length) + n the nth new text written.
const ABSENT: u64 = 0;
const NEW: u64 = 1;

impl Default for Writer<'_> {
    fn default() -> Self {
        Self::with(&EMPTY)
    }
}

impl<'a> Writer<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(dictionary: &'static Dictionary) -> Self {
        Writer {
            out: Vec::new(),
            seen: HashMap::new(),
            dictionary,
        }
    }

    pub fn finish(self) -> Box<[u8]> {
        self.out.into_boxed_slice()
    }

    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    pub fn i64(&mut self, v: i64) {
        // Zigzag: small magnitudes of either sign stay short.
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn byte(&mut self, v: u8) {
        self.out.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.byte(u8::from(v));
    }

    pub fn str(&mut self, s: &'a str) {
        self.opt_str(Some(s));
    }

    pub fn opt_str(&mut self, s: Option<&'a str>) {
        let Some(s) = s else {
            self.u64(ABSENT);
            return;
        };
        if let Some(i) = self.dictionary.find(s) {
            self.u64(i + 2);
            return;
        }
        if let Some(&i) = self.seen.get(s) {
            self.u64(i + 2 + self.dictionary.len());
            return;
        }
        let next = self.seen.len() as u64;
        self.seen.insert(s, next);
        self.u64(NEW);
        self.u64(s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn timestamp(&mut self, t: Timestamp) {
        self.i64(t.as_second());
        self.i64(i64::from(t.subsec_nanosecond()));
    }

    pub fn opt_timestamp(&mut self, t: Option<Timestamp>) {
        self.bool(t.is_some());
        if let Some(t) = t {
            self.timestamp(t);
        }
    }
}

impl<'b> Reader<'b> {
    pub fn new(bytes: &'b [u8]) -> Self {
        Self::with(bytes, &EMPTY)
    }

    pub fn with(bytes: &'b [u8], dictionary: &'static Dictionary) -> Self {
        Reader {
            bytes,
            at: 0,
            seen: Vec::new(),
            dictionary,
        }
    }

    pub fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    pub fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    pub fn i64(&mut self) -> Option<i64> {
        let v = self.u64()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    pub fn bool(&mut self) -> Option<bool> {
        Some(self.byte()? != 0)
    }

    /// Text, borrowed from the buffer (or the dictionary).
    pub fn opt_str(&mut self) -> Option<Option<&'b str>> {
        let words = self.dictionary.len();
        let (start, len) = match self.u64()? {
            ABSENT => return Some(None),
            NEW => {
                let len = self.usize()?;
                let start = self.at;
                self.at = start.checked_add(len)?;
                if self.at > self.bytes.len() {
                    return None;
                }
                self.seen.push((start, len));
                (start, len)
            }
            n if n - 2 < words => {
                return Some(Some(
                    self.dictionary.words.get(usize::try_from(n - 2).ok()?)?,
                ));
            }
            n => *self.seen.get(usize::try_from(n - 2 - words).ok()?)?,
        };
        // Written from a `&str`, so it is UTF-8; checked anyway (a bug reads as absent data).
        std::str::from_utf8(self.bytes.get(start..start + len)?)
            .ok()
            .map(Some)
    }

    pub fn str(&mut self) -> Option<&'b str> {
        self.opt_str()?
    }

    pub fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }

    pub fn opt_string(&mut self) -> Option<Option<String>> {
        Some(self.opt_str()?.map(str::to_string))
    }

    pub fn timestamp(&mut self) -> Option<Timestamp> {
        let secs = self.i64()?;
        let nanos = i32::try_from(self.i64()?).ok()?;
        Timestamp::new(secs, nanos).ok()
    }

    pub fn opt_timestamp(&mut self) -> Option<Option<Timestamp>> {
        if self.bool()? {
            Some(Some(self.timestamp()?))
        } else {
            Some(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repeated_text_is_written_once() {
        let mut w = Writer::new();
        w.str("Deployment");
        w.str("Deployment");
        w.opt_str(None);
        w.str("Service");
        let bytes = w.finish();
        assert_eq!(bytes.len(), 1 + 1 + 10 + 1 + 1 + 1 + 1 + 7);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.str(), Some("Deployment"));
        assert_eq!(r.str(), Some("Deployment"));
        assert_eq!(r.opt_str(), Some(None));
        assert_eq!(r.str(), Some("Service"));
        assert!(r.is_done());
        assert_eq!(r.u64(), None, "past the end");
    }

    #[test]
    fn dictionary_words_take_one_byte_and_other_text_still_reads_back() {
        static WORDS: Dictionary = Dictionary::new(&["Synced", "OutOfSync"]);
        let mut w = Writer::with(&WORDS);
        w.str("OutOfSync");
        w.str("mine");
        w.str("mine");
        w.str("Synced");
        let bytes = w.finish();
        assert_eq!(bytes.len(), 1 + (1 + 1 + 4) + 1 + 1);
        let mut r = Reader::with(&bytes, &WORDS);
        for want in ["OutOfSync", "mine", "mine", "Synced"] {
            assert_eq!(r.str(), Some(want));
        }
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(
            ints in proptest::collection::vec(any::<i64>(), 0..8),
            texts in proptest::collection::vec(proptest::option::of("\\PC{0,12}"), 0..8),
            secs in -10_000_000_000i64..10_000_000_000,
            nanos in 0i32..1_000_000_000,
        ) {
            let t = Timestamp::new(secs, nanos).unwrap();
            let mut w = Writer::new();
            for i in &ints { w.i64(*i); w.u64(*i as u64); }
            for s in &texts { w.opt_str(s.as_deref()); }
            w.timestamp(t);
            w.opt_timestamp(None);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes);
            for i in &ints {
                prop_assert_eq!(r.i64(), Some(*i));
                prop_assert_eq!(r.u64(), Some(*i as u64));
            }
            for s in &texts { prop_assert_eq!(r.opt_str(), Some(s.as_deref())); }
            prop_assert_eq!(r.timestamp(), Some(t));
            prop_assert_eq!(r.opt_timestamp(), Some(None));
            prop_assert!(r.is_done());
        }
    }
}

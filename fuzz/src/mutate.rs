//! A small deterministic mutator for the stable harness: what libFuzzer does without coverage
//! guidance (bit flips, byte changes, insertions and deletions, splices of two inputs, tokens
//! from a dictionary), driven by a seeded xorshift generator so a failure is reproducible from
//! its seed.

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Tokens worth inserting: the syntax of every input the targets read.
pub const DICTIONARY: &[&[u8]] = &[
    b"%2F",
    b"%3F",
    b"%00",
    b"%ff",
    b"%",
    b"&",
    b"=",
    b"+",
    b":",
    b",",
    b"*",
    b"\n",
    b"\r\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"\xe2\x80\xae",
    b"\xe2\x80\xa8",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"argocd-application-name: ",
    b"argocd-project-name: ",
    b"argocd-user-groups: ",
    b"v1:",
    b"reports=",
    b"bytes=",
    b"apps=",
    b"f:",
    b"k:",
    b"v:",
    b"i:",
    b"fieldsV1",
    b"manager",
    b"select(",
    b"recurse",
    b"..",
    b"|",
    b"path(",
    b"$__loc__",
    b"limit(",
    b"repeat(",
    b"\"kind\":\"Secret\"",
    b"\"data\"",
];

/// One mutation of `input` (another input may be spliced in).
pub fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next_u64() as u8);
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = rng.below(out.len() - i).min(16) + 1;
                out.drain(i..(i + n).min(out.len()));
            }
            4 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                let i = rng.below(out.len() + 1);
                out.splice(i..i, token.iter().copied());
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from) + 1;
                let i = rng.below(out.len() + 1);
                out.splice(i..i, other[from..from + n].iter().copied());
            }
            _ if !out.is_empty() => {
                // Repeat a slice: long inputs find length bugs.
                let i = rng.below(out.len());
                let n = rng.below(out.len() - i).min(64) + 1;
                let slice = out[i..i + n].to_vec();
                for _ in 0..rng.below(8) {
                    out.extend_from_slice(&slice);
                }
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out.truncate(64 * 1024);
    out
}

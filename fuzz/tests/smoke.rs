//! The short fuzz pass of the test suite (stable): every target on every file of its corpus
//! (`fuzz/corpus/<target>/`, grown by the long libFuzzer runs of `make fuzz`) and its
//! regressions (`fuzz/regressions/<target>/`: inputs that once failed), then on
//! `FUZZ_SMOKE_RUNS` (default 2,000) deterministic mutations of them. A failure names the target,
//! the seed and the input (hex), to add to `fuzz/regressions/<target>/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argocd_drift_fuzz::TARGETS;
use argocd_drift_fuzz::mutate::{Rng, mutate};
use std::path::PathBuf;

/// The files of `fuzz/<kind>/<target>/` (none if it does not exist).
fn inputs(kind: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// The corpus libFuzzer grows (and `cargo fuzz cmin` shrinks), then the inputs that once failed
/// (`fuzz/regressions/<target>/`, kept apart so a minimization never drops one).
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut all = inputs("corpus", target);
    all.extend(inputs("regressions", target));
    all
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn run(name: &str, target: fn(&[u8]), input: &[u8], what: &str) {
    let result = std::panic::catch_unwind(|| target(input));
    if result.is_err() {
        panic!(
            "fuzz target {name} failed on {what}: {:?} (hex {})",
            String::from_utf8_lossy(input),
            hex(input)
        );
    }
}

#[test]
fn every_target_survives_its_corpus_and_mutations_of_it() {
    let runs: usize = std::env::var("FUZZ_SMOKE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    for (i, (name, target)) in TARGETS.iter().enumerate() {
        let corpus = corpus(name);
        assert!(!corpus.is_empty(), "{name}: an empty corpus");
        for (n, input) in corpus.iter().enumerate() {
            run(name, *target, input, &format!("corpus file {n}"));
        }
        let seed = 0x5eed_0000 + i as u64;
        let mut rng = Rng::new(seed);
        for n in 0..runs {
            let input = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            let mutated = mutate(input, other, &mut rng);
            run(
                name,
                *target,
                &mutated,
                &format!("mutation {n} (seed {seed:#x})"),
            );
        }
        println!("{name}: {} corpus files, {runs} mutations", corpus.len());
    }
}

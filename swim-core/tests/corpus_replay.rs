//! Replays the committed fuzz corpus on stable Rust, without cargo-fuzz.
//!
//! Each file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! goes through the very check the cargo-fuzz target runs
//! (`fuzz/src/checks.rs`, included here by path), so `cargo test` catches a
//! change that breaks an input the fuzzers once explored, with or without
//! the `alloc` feature.

#[path = "../../fuzz/src/checks.rs"]
mod checks;
#[path = "../../fuzz/src/digest_exchange.rs"]
mod digest_exchange;

use std::path::{Path, PathBuf};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(!corpus.is_empty(), "the seed corpus of {target} is missing");
    let regressions = inputs("regressions", target);
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("readable corpus file");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!(
                "{target}: input {} breaks the check (see the panic above)",
                path.display()
            );
        }
    }
}

#[test]
fn decode_corpus() {
    replay("decode", checks::decode);
}

#[test]
fn state_machine_corpus() {
    replay("state_machine", checks::state_machine);
}

#[test]
fn packet_assembly_corpus() {
    replay("packet_assembly", checks::packet_assembly);
}

/// Also checks that the seed corpus reaches every outcome of a forged
/// digest exchange that the target tells apart.
#[test]
fn digest_exchange_corpus() {
    digest_exchange::take_tally();
    replay("digest_exchange", digest_exchange::digest_exchange);
    let tally = digest_exchange::take_tally();
    eprintln!("digest_exchange outcomes over the corpus: {tally:#?}");
    for outcome in digest_exchange::OUTCOMES {
        assert!(
            tally.contains_key(outcome),
            "no input of the digest_exchange corpus reaches {outcome:?} any more: \
             refresh the corpus (fuzz/README.md, \"The digest exchange\")"
        );
    }
}

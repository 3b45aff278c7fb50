//! Checks shared by the fuzz targets and by swim-core's corpus replay test
//! (`swim-core/tests/corpus_replay.rs` includes `checks.rs` by path, so the
//! committed corpus is replayed on stable by a plain `cargo test`).

pub mod checks;
pub mod digest_exchange;

//! Standard output that never panics: a closed pipe (`swim members | head
//! -1`, a log collector that went away) loses the text, not the process.

use std::io::Write;

/// Writes `text` and a newline to standard output, ignoring errors.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Writes `text` as is to standard output, ignoring errors.
pub fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

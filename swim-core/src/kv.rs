//! A per-node key-value view carried in the metadata blob.
//!
//! [`Swim::set_local_state`](crate::Swim::set_local_state) stores key-value
//! pairs in the local node's metadata, so they travel with it to every
//! member; [`MemberView::state_value`](crate::MemberView::state_value) reads one back.
//! Encoding: a format byte `0xB7`, then `(blob key, blob value)` pairs, where a
//! blob is a varint length and its bytes. Metadata that does not start with
//! the format byte holds no pairs.

use crate::wire::codec::{varint_len, Reader, Writer};

/// First byte of metadata that holds key-value pairs.
pub const KV_FORMAT: u8 = 0xB7;

/// Iterator over the key-value pairs of a metadata blob; stops at the first
/// malformed pair.
#[derive(Debug)]
pub struct Pairs<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.is_empty() {
            return None;
        }
        let pair = self
            .reader
            .blob(usize::MAX)
            .zip(self.reader.blob(usize::MAX));
        if pair.is_none() {
            self.reader = Reader::new(&[]);
        }
        pair
    }
}

/// The key-value pairs of `metadata` (none if it is not in the format).
pub fn pairs(metadata: &[u8]) -> Pairs<'_> {
    let body = match metadata.split_first() {
        Some((&KV_FORMAT, rest)) => rest,
        _ => &[],
    };
    Pairs {
        reader: Reader::new(body),
    }
}

/// The value of `key` in `metadata`.
pub fn get<'a>(metadata: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    pairs(metadata).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Size of `metadata` after setting `key` to `value` (`None`: removing it).
pub(crate) fn size_after(metadata: &[u8], key: &[u8], value: Option<&[u8]>) -> usize {
    let blob = |b: &[u8]| varint_len(b.len() as u64) + b.len();
    let kept: usize = pairs(metadata)
        .filter(|(k, _)| *k != key)
        .map(|(k, v)| blob(k) + blob(v))
        .sum();
    1 + kept + value.map_or(0, |v| blob(key) + blob(v))
}

/// Writes `metadata` with `key` set to `value` (or removed) into `out`;
/// `None` if `out` is too small.
pub(crate) fn rewrite(
    metadata: &[u8],
    key: &[u8],
    value: Option<&[u8]>,
    out: &mut Writer<'_>,
) -> Option<()> {
    out.u8(KV_FORMAT)?;
    for (k, v) in pairs(metadata).filter(|(k, _)| *k != key) {
        out.blob(k)?;
        out.blob(v)?;
    }
    if let Some(v) = value {
        out.blob(key)?;
        out.blob(v)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(meta: &[u8], key: &[u8], value: Option<&[u8]>) -> ([u8; 128], usize) {
        let mut buf = [0u8; 128];
        let mut w = Writer::new(&mut buf);
        rewrite(meta, key, value, &mut w).unwrap();
        let n = w.len();
        assert_eq!(n, size_after(meta, key, value));
        (buf, n)
    }

    #[test]
    fn set_get_replace_remove() {
        let (a, n) = set(&[], b"zone", Some(b"a"));
        let (b, m) = set(&a[..n], b"role", Some(b"db"));
        assert_eq!(get(&b[..m], b"zone"), Some(&b"a"[..]));
        assert_eq!(get(&b[..m], b"role"), Some(&b"db"[..]));
        let (c, k) = set(&b[..m], b"zone", Some(b"b"));
        assert_eq!(get(&c[..k], b"zone"), Some(&b"b"[..]));
        assert_eq!(pairs(&c[..k]).count(), 2);
        let (d, j) = set(&c[..k], b"role", None);
        assert_eq!(get(&d[..j], b"role"), None);
        assert_eq!(pairs(&d[..j]).count(), 1);
    }

    #[test]
    fn foreign_or_broken_metadata_has_no_pairs() {
        assert_eq!(pairs(b"plain text").count(), 0);
        assert_eq!(pairs(&[KV_FORMAT, 5, 1]).count(), 0);
        // Plain metadata is replaced by the pair format when a key is set.
        let (a, n) = set(b"plain", b"k", Some(b"v"));
        assert_eq!(
            pairs(&a[..n]).collect::<std::vec::Vec<_>>(),
            [(&b"k"[..], &b"v"[..])]
        );
    }
}

//! Cost of the encrypted envelope on a full datagram: sealing a swim
//! packet that fills the default 1400-byte datagram (1359 bytes of
//! plaintext), opening it, both, both followed by the receiver's replay
//! check, and rejecting a forged one.
//!
//!     cargo bench -p swim-transport-udp --bench envelope

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use swim_transport_udp::{
    Keyring, ReplayConfig, ReplayFilter, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD,
};

const DATAGRAM: usize = 1400;
const PLAINTEXT: usize = DATAGRAM - ENVELOPE_OVERHEAD;
const TAG: u32 = 0x811c_9dc5;

fn filled() -> Vec<u8> {
    let mut buf = vec![0u8; DATAGRAM];
    for (i, b) in buf[ENVELOPE_HEADER_LEN..][..PLAINTEXT]
        .iter_mut()
        .enumerate()
    {
        *b = i as u8;
    }
    buf
}

fn envelope(c: &mut Criterion) {
    let ring = Keyring::new(&[7; 32]).unwrap();
    let mut group = c.benchmark_group("envelope 1400-byte datagram");
    group.throughput(Throughput::Bytes(DATAGRAM as u64));

    let mut buf = filled();
    group.bench_function("seal", |b| {
        b.iter(|| black_box(ring.seal(TAG, black_box(&mut buf), PLAINTEXT).unwrap()))
    });

    let mut sealed = filled();
    ring.seal(TAG, &mut sealed, PLAINTEXT).unwrap();
    // Opening decrypts in place: each iteration opens a fresh copy (the
    // 1400-byte copy is part of the measured time, a few tens of ns).
    let mut work = sealed.clone();
    group.bench_function("open", |b| {
        b.iter(|| {
            work.copy_from_slice(&sealed);
            black_box(ring.open(TAG, black_box(&mut work)).unwrap())
        })
    });

    let mut buf = filled();
    group.bench_function("seal + open", |b| {
        b.iter(|| {
            let len = ring.seal(TAG, black_box(&mut buf), PLAINTEXT).unwrap();
            black_box(ring.open(TAG, black_box(&mut buf[..len])).unwrap())
        })
    });

    // What a node does per datagram: the sender seals, the receiver opens
    // and checks the replay window (each seal is a new counter).
    let mut buf = filled();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    group.bench_function("seal + open + replay check", |b| {
        b.iter(|| {
            let len = ring.seal(TAG, black_box(&mut buf), PLAINTEXT).unwrap();
            let opened = ring.open(TAG, black_box(&mut buf[..len])).unwrap();
            let now = u64::from(opened.timestamp);
            black_box(filter.check(&opened, now)).unwrap()
        })
    });

    // A forged datagram costs the receiver one tag check per key in its
    // ring: here one key.
    let mut forged = sealed.clone();
    forged[DATAGRAM / 2] ^= 1;
    group.bench_function("reject forged", |b| {
        b.iter(|| black_box(ring.open(TAG, black_box(&mut forged)).is_err()))
    });
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);

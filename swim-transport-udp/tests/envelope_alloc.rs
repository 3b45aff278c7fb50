//! Sealing, opening and the replay check never allocate per datagram: the
//! hot path of an encrypted node works in the buffers it already has, and
//! the replay filter's table stops allocating once it has reached its
//! bound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use swim_transport_udp::{
    Keyring, Opened, ReplayConfig, ReplayFilter, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD,
};

/// Counts the allocations of the thread that set `COUNTING`.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn seal_and_open_do_not_allocate() {
    let mut ring = Keyring::new(&[1; 32]).unwrap();
    ring.install(&[2; 32]).unwrap();
    let other = Keyring::new(&[2; 32]).unwrap();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    let mut buf = vec![0u8; 1400];
    let plaintext = 1400 - ENVELOPE_OVERHEAD;
    buf[ENVELOPE_HEADER_LEN..][..plaintext].fill(0x42);
    // Warm up anything lazily initialized (the OS random source, the
    // senders' ids, the filter's first entries).
    let len = ring.seal(7, &mut buf, plaintext).unwrap();
    let opened = ring.open(7, &mut buf[..len]).unwrap();
    let now = u64::from(opened.timestamp);
    filter.check(&opened, now).unwrap();
    let len = other.seal(7, &mut buf, plaintext).unwrap();
    filter
        .check(&ring.open(7, &mut buf[..len]).unwrap(), now)
        .unwrap();

    COUNTING.with(|c| c.set(true));
    for _ in 0..1000 {
        let len = ring.seal(7, &mut buf, plaintext).unwrap();
        let opened = ring.open(7, &mut buf[..len]).unwrap();
        assert_eq!(filter.check(&opened, now), Ok(()));
        assert!(filter.check(&opened, now).is_err());
        // Sealed with the second key of the ring, and a forged one.
        let len = other.seal(7, &mut buf, plaintext).unwrap();
        let opened = ring.open(7, &mut buf[..len]).unwrap();
        assert_eq!(opened.key_index, 1);
        assert_eq!(filter.check(&opened, now), Ok(()));
        buf[100] ^= 1;
        assert!(ring.open(7, &mut buf[..len]).is_err());
        buf[100] ^= 1;
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.with(Cell::get), 0);
}

#[test]
fn a_full_replay_table_evicts_without_allocating() {
    let max = 1000;
    let mut filter = ReplayFilter::new(ReplayConfig::default().with_max_senders(max));
    let header = |sender_id: u64| Opened {
        plaintext: 0..0,
        key_index: 0,
        sender_id,
        counter: 0,
        timestamp: 50,
    };
    // Grow the table to its bound, and evict once.
    for id in 0..=max as u64 {
        filter.check(&header(id), 50).unwrap();
    }
    COUNTING.with(|c| c.set(true));
    for id in max as u64 + 1..200_000 {
        filter.check(&header(id), 50).unwrap();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(filter.len(), max);
    assert_eq!(ALLOCATIONS.with(Cell::get), 0);
}

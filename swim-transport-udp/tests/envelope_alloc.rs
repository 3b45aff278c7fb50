//! Sealing and opening never allocate: the hot path of an encrypted node
//! works in the buffers it already has.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use swim_transport_udp::{Keyring, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD};

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
    let mut buf = vec![0u8; 1400];
    let plaintext = 1400 - ENVELOPE_OVERHEAD;
    buf[ENVELOPE_HEADER_LEN..][..plaintext].fill(0x42);
    // Warm up anything lazily initialized (the OS random source).
    let len = ring.seal(7, &mut buf, plaintext).unwrap();
    ring.open(7, &mut buf[..len]).unwrap();

    COUNTING.with(|c| c.set(true));
    for _ in 0..1000 {
        let len = ring.seal(7, &mut buf, plaintext).unwrap();
        assert!(ring.open(7, &mut buf[..len]).is_ok());
        // Sealed with the second key of the ring, and a forged one.
        let len = other.seal(7, &mut buf, plaintext).unwrap();
        assert_eq!(ring.open(7, &mut buf[..len]).unwrap().key_index, 1);
        buf[100] ^= 1;
        assert!(ring.open(7, &mut buf[..len]).is_err());
        buf[100] ^= 1;
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.with(Cell::get), 0);
}

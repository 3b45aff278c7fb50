#![no_main]

use std::cell::Cell;

use libfuzzer_sys::fuzz_target;

thread_local! {
    /// The worst amplification ratio printed so far.
    static PRINTED: Cell<f64> = const { Cell::new(0.0) };
}

fuzz_target!(|data: &[u8]| {
    swim_fuzz::checks::state_machine(data);
    // Report the worst ratio of bytes sent to an address outside the node
    // range to what the adversary allowed, whenever it grows by a point.
    let worst = swim_fuzz::checks::worst_amplification();
    if worst >= PRINTED.get() + 0.01 {
        PRINTED.set(worst);
        eprintln!("worst amplification ratio so far: {worst:.3}");
    }
});

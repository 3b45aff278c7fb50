#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    swim_fuzz::digest_exchange::digest_exchange(data);
});

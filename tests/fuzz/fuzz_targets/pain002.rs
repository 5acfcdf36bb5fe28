//! Any text as a pain.002 status report: `parse_pain002` reads it or says why not, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payment::iso20022::parse_pain002(xml);
});

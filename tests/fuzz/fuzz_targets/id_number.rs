//! Any text as a resident ID number (GB 11643-1999): `ResidentId::parse` answers without
//! panicking, and what it accepts reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = policy::ResidentId::parse(text) {
        let again =
            policy::ResidentId::parse(id.as_str()).expect("an accepted number parses again");
        assert_eq!(again.as_str(), id.as_str());
        assert_eq!(id.as_str().len(), 18);
    }
    let _ = policy::id::mask(text);
});

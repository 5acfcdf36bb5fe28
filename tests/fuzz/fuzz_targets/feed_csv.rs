//! Any bytes as a departmental feed CSV body, arriving in pieces of any size (the first byte
//! picks it): every line is read or refused with a reason, never a panic, and the result does
//! not depend on how the body was cut.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(*first) + 1;
    let pieces = monitoring::http::feeds::read_csv(body, chunk);
    let whole = monitoring::http::feeds::read_csv(body, body.len().max(1));
    assert_eq!(format!("{pieces:?}"), format!("{whole:?}"));
});

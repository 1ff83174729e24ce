//! Arbitrary text as a Go duration (`--health-interval`, `HEALTHCHECK --timeout`):
//! `parse_go_duration` must return without panicking; an error names the value; what parses
//! prints back (Go's `Duration.String()`) to something that parses to the same value.

#![no_main]

use berth_engine::health::{go_duration, parse_go_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match parse_go_duration(s) {
        Ok(ns) => {
            let printed = go_duration(ns);
            assert_eq!(
                parse_go_duration(&printed),
                Ok(ns),
                "{s:?} printed {printed:?}"
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("time: "), "{msg}");
            if s.bytes()
                .all(|b| (b' '..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                assert!(msg.contains(&format!("\"{s}\"")), "{msg} lacks {s:?}");
            }
        }
    }
});

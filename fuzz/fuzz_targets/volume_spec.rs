//! Arbitrary text as `-v SRC:DST[:MODE]`: the volume parser and the bind parser must
//! return without panicking; whatever they accept mounts at a clean absolute destination
//! (no `.` or `..` component, not `/`), and every error names the spec or its mode.

#![no_main]

use berth_engine::spec::bind_mount;
use berth_engine::volume::parse_spec;
use libfuzzer_sys::fuzz_target;

fn clean_absolute(d: &str) {
    assert!(d.starts_with('/') && d != "/", "destination {d:?}");
    assert!(
        d[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".."),
        "destination {d:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match parse_spec(s) {
        Ok(Some(v)) => {
            clean_absolute(&v.destination);
            assert_eq!(v.anonymous, v.name.is_empty());
        }
        Ok(None) => {
            // A host path: the bind parser has the last word.
            assert!(s.starts_with('/'));
            if let Ok(m) = bind_mount(s) {
                clean_absolute(m["destination"].as_str().unwrap());
                assert!(m["source"].as_str().unwrap().starts_with('/'));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            let mode = s.splitn(3, ':').nth(2).unwrap_or_default();
            let src = s.split(':').next().unwrap_or_default();
            assert!(
                msg.contains(s) || msg.contains(mode) || msg.contains(src),
                "{msg} names nothing of {s:?}"
            );
        }
    }
    if let Err(e) = bind_mount(s) {
        let msg = e.to_string();
        assert!(
            msg.contains(s) || msg.starts_with("invalid mode: "),
            "{msg}"
        );
    }
});

//! Arbitrary bytes as a layer: the applier must return (an error, usually) without
//! panicking, and must never create anything outside the root it was given.
//!
//! The first byte picks the options, the rest is the layer (compressed or not: the applier
//! detects gzip and zstd by their magic, so the fuzzer can find its way into both).

#![no_main]

use berth_image::apply::{self, ApplyOptions, Limits, Whiteouts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, layer)) = data.split_first() else {
        return;
    };
    let base = tempfile::tempdir().expect("tempdir");
    let root = base.path().join("root");
    let sentinel = base.path().join("sentinel");
    std::fs::create_dir(&root).expect("root");
    std::fs::create_dir(&sentinel).expect("sentinel");
    let opts = ApplyOptions {
        whiteouts: if flags & 1 == 0 {
            Whiteouts::Overlay
        } else {
            Whiteouts::Remove
        },
        limits: Limits {
            max_entries: 4096,
            max_bytes: 16 << 20,
            max_metadata: 64 << 10,
        },
        expected_diff_id: None,
        preserve_owner: flags & 2 != 0,
    };
    // Twice into the same root, so the second pass meets the first one's symlinks.
    let _ = apply::apply(&root, layer, &opts);
    let _ = apply::apply(&root, layer, &opts);
    assert_eq!(
        std::fs::read_dir(&sentinel).expect("sentinel").count(),
        0,
        "something was written outside the root"
    );
    let mut names: Vec<_> = std::fs::read_dir(base.path())
        .expect("base")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["root", "sentinel"], "something appeared beside the root");
});

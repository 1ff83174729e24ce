//! Arbitrary bytes as a `docker load` archive: `archive::load` must return without
//! panicking; when it fails it must leave no image registered and nothing behind once
//! garbage is collected; either way nothing may appear outside the store's directory.
//!
//! The input goes to `load` as it is (plain tar, or gzip or zstd by their magic).

#![no_main]

use berth_image::{archive, Store};
use libfuzzer_sys::fuzz_target;

fn names(p: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = std::fs::read_dir(p)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    // On tmpfs when there is one: the store fsyncs every blob and transaction, which on a
    // disk costs more than everything else here together.
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    let root = base.path().join("store");
    let sentinel = base.path().join("sentinel");
    std::fs::create_dir(&sentinel).expect("sentinel");
    let mut store = Store::open(&root).expect("store");
    // Small limits, so that a fuzzer-made layer can't fill the disk.
    store.limits.blob = 16 << 20;
    store.limits.layer.max_bytes = 16 << 20;
    store.limits.layer.max_entries = 4096;
    if archive::load(&mut store, data).is_err() {
        assert!(
            store.images().expect("images").is_empty(),
            "a failed load registered an image"
        );
        store.collect_garbage().expect("gc");
        assert!(
            store.content.list().expect("blobs").is_empty(),
            "a failed load left blobs"
        );
        assert!(
            store
                .snapshots
                .list(&store.db)
                .expect("snapshots")
                .is_empty(),
            "a failed load left snapshots"
        );
    }
    assert!(
        names(&sentinel).is_empty(),
        "something was written beside the store"
    );
    assert_eq!(
        names(base.path()),
        ["sentinel", "store"],
        "something appeared beside the store"
    );
});

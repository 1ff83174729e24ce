//! The on-disk cache of compiled filters: the same program comes back, and anything wrong with
//! a cached file means compiling again. (One process-wide directory, hence a test binary of
//! its own.)

use berth_seccomp::profile::{docker_default, native_arch};

#[test]
fn cached_filters_round_trip_and_bad_files_are_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    berth_seccomp::cache::set_dir(dir.path());
    let caps = ["CAP_CHOWN", "CAP_KILL"];
    let spec = docker_default(&caps, native_arch());
    let first = berth_seccomp::compile(&spec).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one cached program");
    let second = berth_seccomp::compile(&spec).unwrap();
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    // A damaged file is ignored, recompiled and replaced.
    std::fs::write(&files[0], b"BSCBPF01garbage").unwrap();
    let third = berth_seccomp::compile(&spec).unwrap();
    assert_eq!(format!("{first:?}"), format!("{third:?}"));
    assert!(std::fs::read(&files[0]).unwrap().len() > 1000);
    // Another capability set is another program.
    let other = docker_default(&["CAP_SYS_ADMIN"], native_arch());
    berth_seccomp::compile(&other).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

//! The image commands end to end through the `berth` binary, with real overlay snapshots,
//! and round trips through podman (Debian's) in both directions.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bin, have, run_image, runc_bin, sh, Env};

#[test]
fn import_list_inspect_history_tag_rmi() {
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let out = e.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert!(lines[1].starts_with("busybox      latest    "), "{out}");
    assert!(lines[1].contains(&id[7..19]), "{out}");
    assert_eq!(e.ok(&["images", "-q"]).trim(), &id[7..19]);
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        e.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["image", "inspect", "busybox"])).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(v[0]["Os"], "linux");
    assert_eq!(v[0]["RootFS"]["Type"], "layers");
    for k in [
        "Created",
        "Config",
        "Architecture",
        "Size",
        "GraphDriver",
        "RepoDigests",
    ] {
        assert!(v[0].get(k).is_some(), "inspect lacks {k}");
    }
    assert_eq!(
        e.ok(&["inspect", "--format", "{{.Id}}", &id[7..19]]).trim(),
        id
    );
    let h = e.ok(&["history", "busybox"]);
    assert!(h.starts_with("IMAGE          CREATED"), "{h}");
    assert!(h.contains("Imported from"), "{h}");

    e.ok(&["tag", "busybox", "example.com/team/bb:v1"]);
    let out = e.ok(&["images", "--format", "{{.Repository}} {{.Tag}}"]);
    assert!(out.contains("example.com/team/bb v1"), "{out}");
    // An ID with two names needs -f, a tag just goes.
    let err = e.fails(&["rmi", &id[7..19]]);
    assert!(err.contains("referenced in multiple repositories"), "{err}");
    assert_eq!(
        e.ok(&["rmi", "example.com/team/bb:v1"]).trim(),
        "Untagged: example.com/team/bb:v1"
    );
    let out = e.ok(&["rmi", "busybox"]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    assert_eq!(e.ok(&["images", "-q"]), "");
    assert_eq!(e.leftovers(), (0, 0, 0));
    let err = e.fails(&["rmi", "busybox"]);
    assert!(err.contains("No such image: busybox"), "{err}");
}

#[test]
fn usage_errors_exit_125() {
    let e = Env::new();
    let o = e.berth(&["images", "--bogus"]);
    assert_eq!(o.status.code(), Some(125));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown flag: --bogus") && err.contains("See 'berth images --help'."),
        "{err}"
    );
    let o = e.berth(&["tag", "only-one"]);
    assert_eq!(o.status.code(), Some(125));
    let o = e.berth(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(125));
    let err = e.fails(&["tag", "missing", "x"]);
    assert!(err.contains("No such image: missing"), "{err}");
}

#[test]
fn save_load_round_trip_and_dedup() {
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    e.ok(&["tag", "busybox", "bb2:x"]);
    let out = e.path("save.tar");
    e.ok(&["save", "-o", out.to_str().unwrap(), "busybox", "bb2:x"]);
    let list = sh(&format!("tar tf {}", out.display()));
    for f in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(list.lines().any(|l| l == f), "{f} missing: {list}");
    }
    // One layer blob although two names were saved.
    assert_eq!(
        list.lines()
            .filter(|l| l.len() > 13 && l.starts_with("blobs/sha256/"))
            .count(),
        3,
        "{list}"
    );
    let e2 = Env::new();
    let loaded = e2.ok(&["load", "-i", out.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: busybox:latest") && loaded.contains("Loaded image: bb2:x"),
        "{loaded}"
    );
    assert_eq!(e2.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    // The same archive through stdin.
    let e3 = Env::new();
    let o = Command::new(bin())
        .arg("--root")
        .arg(e3.root())
        .arg("load")
        .stdin(std::fs::File::open(&out).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Saving to a terminal is refused, and a failed save leaves no file.
    let err = e.fails(&["save", "-o", e.path("no.tar").to_str().unwrap(), "nope"]);
    assert!(err.contains("No such image: nope"), "{err}");
    assert!(!e.path("no.tar").exists());
}

#[test]
fn podman_loads_what_berth_saves_and_runs_it() {
    if !have("podman") {
        return;
    }
    let e = Env::new();
    e.import_busybox("localhost/berth-test/bb:round");
    let out = e.path("save.tar");
    e.ok(&[
        "save",
        "-o",
        out.to_str().unwrap(),
        "localhost/berth-test/bb:round",
    ]);
    let loaded = sh(&format!("podman load -q -i {} 2>&1", out.display()));
    assert!(loaded.contains("localhost/berth-test/bb:round"), "{loaded}");
    let said = sh("podman run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/berth-test/bb:round /bin/echo from-berth");
    let _ = Command::new("podman")
        .args(["rmi", "-f", "localhost/berth-test/bb:round"])
        .output();
    assert_eq!(said.trim(), "from-berth");
}

#[test]
fn berth_loads_what_podman_saves_and_runs_it() {
    if !have("podman") {
        return;
    }
    let e = Env::new();
    let tar = e.busybox_tar();
    sh(&format!(
        "podman import -q {} localhost/berth-test/from-podman:1 >/dev/null",
        tar.display()
    ));
    let docker_archive = e.path("p.tar");
    let oci_archive = e.path("p-oci.tar");
    sh(&format!(
        "podman save -q -o {} localhost/berth-test/from-podman:1",
        docker_archive.display()
    ));
    sh(&format!(
        "podman save -q --format oci-archive -o {} localhost/berth-test/from-podman:1",
        oci_archive.display()
    ));
    let _ = Command::new("podman")
        .args(["rmi", "-f", "localhost/berth-test/from-podman:1"])
        .output();
    let out = e.ok(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(
        out.contains("Loaded image: localhost/berth-test/from-podman:1"),
        "{out}"
    );
    let said = run_image(
        &e,
        "localhost/berth-test/from-podman:1",
        &["/bin/sh", "-c", "echo loaded-from-podman"],
    );
    if runc_bin().is_some() {
        assert_eq!(said.trim(), "loaded-from-podman");
    }
    let e2 = Env::new();
    let out = e2.ok(&["load", "-i", oci_archive.to_str().unwrap()]);
    assert!(out.starts_with("Loaded image"), "{out}");
    assert_eq!(e2.ok(&["images", "-q"]).lines().count(), 1);
}

/// Unpacks a good archive, lets `edit` spoil it (a shell snippet run inside), packs it again.
fn spoiled(e: &Env, name: &str, edit: &str) -> PathBuf {
    let good = e.path("good.tar");
    if !good.exists() {
        e.import_busybox("busybox:latest");
        e.ok(&["save", "-o", good.to_str().unwrap(), "busybox"]);
        e.ok(&["rmi", "busybox"]);
    }
    let dir = e.path(&format!("x-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    sh(&format!(
        "tar -C {d} -xf {g} && cd {d} && {edit}",
        d = dir.display(),
        g = good.display()
    ));
    let out = e.path(&format!("{name}.tar"));
    sh(&format!("tar -C {} -cf {} .", dir.display(), out.display()));
    out
}

fn assert_rejected(e: &Env, archive: &Path, expect: &str) {
    let err = e.fails(&["load", "-i", archive.to_str().unwrap()]);
    assert!(err.contains(expect), "wanted {expect:?} in: {err}");
    assert_eq!(e.ok(&["images", "-q"]), "", "nothing may be registered");
    // What the failed load brought in is collected; nothing else was ever written.
    e.ok(&["image", "prune", "-f"]);
    assert_eq!(e.leftovers(), (0, 0, 0), "after {archive:?}");
}

#[test]
fn bad_archives_are_refused_and_leave_nothing() {
    let e = Env::new();
    let layer = |_: ()| "$(jq -r '.[0].Layers[0]' manifest.json)";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "escape",
            r#"jq '.[0].Layers[0] = "../../../../etc/passwd"' manifest.json > m && mv m manifest.json"#.to_string(),
            "names a path outside the archive",
        ),
        (
            "absolute",
            r#"jq '.[0].Config = "/etc/hostname"' manifest.json > m && mv m manifest.json"#.to_string(),
            "names a path outside the archive",
        ),
        (
            "missing",
            r#"jq '.[0].Layers[0] = "nope/layer.tar"' manifest.json > m && mv m manifest.json"#.to_string(),
            "\"nope/layer.tar\" is not in the archive",
        ),
        (
            "diffids",
            format!(
                r#"c=$(jq -r '.[0].Config' manifest.json) && jq '.rootfs.diff_ids[0] = "sha256:{}"' $c > c && rm -f $c index.json && nc=blobs/sha256/$(sha256sum c | cut -d' ' -f1) && mv c $nc && jq ".[0].Config = \"$nc\"" manifest.json > m && mv m manifest.json"#,
                "0".repeat(64)
            ),
            "diff",
        ),
        (
            "not-json",
            "echo '[{' > manifest.json".to_string(),
            "manifest.json is not JSON",
        ),
        (
            "no-manifest",
            "rm manifest.json index.json".to_string(),
            "neither manifest.json",
        ),
        (
            "dotdot-layer",
            format!(
                r#"l={l} && chmod u+w $l && python3 -c "
import tarfile, io
t = tarfile.open('$l', 'w')
i = tarfile.TarInfo('../../../../pwned'); d = b'x'; i.size = 1
t.addfile(i, io.BytesIO(d)); t.close()" && d=$(sha256sum $l | cut -d' ' -f1) && mv $l blobs/sha256/$d && c=$(jq -r '.[0].Config' manifest.json) && jq ".rootfs.diff_ids[0] = \"sha256:$d\"" $c > c && rm -f $c && nc=blobs/sha256/$(sha256sum c | cut -d' ' -f1) && mv c $nc && rm index.json && jq ".[0].Layers[0] = \"blobs/sha256/$d\" | .[0].Config = \"$nc\"" manifest.json > m && mv m manifest.json"#,
                l = layer(())
            ),
            "..",
        ),
    ];
    for (name, edit, expect) in cases {
        let a = spoiled(&e, name, &edit);
        assert_rejected(&e, &a, expect);
    }
    // A blob of an OCI layout whose content does not match its name.
    let a = spoiled(
        &e,
        "oci-digest",
        "rm manifest.json && f=$(ls blobs/sha256 | head -1) && chmod u+w blobs/sha256/$f && echo tampered >> blobs/sha256/$f",
    );
    assert_rejected(&e, &a, "mismatch");
    // A truncated, gzip-compressed archive.
    let good = e.path("good.tar");
    let gz = e.path("trunc.tar.gz");
    sh(&format!(
        "gzip -c {} | head -c 100000 > {}",
        good.display(),
        gz.display()
    ));
    assert_rejected(&e, &gz, "");
    assert!(!Path::new("/etc/pwned").exists());
}

#[test]
fn killed_load_is_cleaned_by_the_next_command() {
    let e = Env::new();
    e.import_busybox("busybox:latest");
    let good = e.path("good.tar");
    e.ok(&["save", "-o", good.to_str().unwrap(), "busybox"]);
    e.ok(&["rmi", "busybox"]);
    // Feed half the archive, then stall; the load is killed while it holds a lease.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(head -c 1200000 {}; sleep 30) | exec {} --root {} load",
            good.display(),
            bin().display(),
            e.root().display()
        ))
        .spawn()
        .unwrap();
    // Wait until the load is under way (a blob is being ingested), however slow the machine.
    let ingest = e.root().join("ingest");
    for _ in 0..400 {
        if std::fs::read_dir(&ingest).is_ok_and(|d| d.count() > 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    // `loa[d]` keeps pkill from matching the shell that runs it.
    sh(&format!(
        "pkill -9 -f -- '--root {} loa[d]' || true",
        e.root().display()
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(e.ok(&["images", "-q"]), "");
    e.ok(&["image", "prune", "-f"]);
    assert_eq!(e.leftovers(), (0, 0, 0));
}

#[test]
fn concurrent_loads_of_the_same_image() {
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    let good = e.path("good.tar");
    e.ok(&["save", "-o", good.to_str().unwrap(), "busybox"]);
    let e2 = Env::new();
    let kids: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin())
                .arg("--root")
                .arg(e2.root())
                .args(["load", "-q", "-i", good.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(e2.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    // One snapshot for the one layer, however many loads raced.
    assert_eq!(e2.leftovers().1, 1);
}

#[test]
fn prune_and_system_df() {
    let e = Env::new();
    e.import_busybox("busybox:latest");
    e.ok(&["import", e.path("bb.tar").to_str().unwrap()]);
    let df = e.ok(&["system", "df"]);
    assert!(
        df.starts_with("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"),
        "{df}"
    );
    assert!(df.contains("Images          2"), "{df}");
    // Dangling only: the untagged import goes, the tagged one and its layer stay.
    let out = e.ok(&["image", "prune", "-f"]);
    assert!(out.contains("deleted: sha256:"), "{out}");
    assert_eq!(e.ok(&["images", "-q"]).lines().count(), 1);
    e.ok(&["image", "prune", "-af"]);
    assert_eq!(e.ok(&["images", "-q"]), "");
    assert_eq!(e.leftovers(), (0, 0, 0));
}

#[test]
fn an_image_a_container_uses_is_not_removed() {
    let e = Env::new();
    let id = e.import_busybox("busybox:latest");
    e.ok(&["tag", "busybox", "second:1"]);
    {
        // A container record, as the engine writes them.
        let store = berth_image::Store::open(&e.root()).unwrap();
        store
            .db
            .conn()
            .execute(
                "INSERT INTO containers (id, name, image) VALUES (?1, 'c1', ?2)",
                ["c0ffee00c0ffee00c0ffee00", id.as_str()],
            )
            .unwrap();
    }
    let err = e.fails(&["rmi", &id[7..19]]);
    assert!(
        err.contains("image is being used by running container c0ffee00c0ff"),
        "{err}"
    );
    // The last tag needs -f, and then only the name goes.
    e.ok(&["rmi", "second:1"]);
    let err = e.fails(&["rmi", "busybox"]);
    assert!(
        err.contains("(must force) - container c0ffee00c0ff is using its referenced image"),
        "{err}"
    );
    let out = e.ok(&["rmi", "-f", "busybox"]);
    assert_eq!(out.trim(), "Untagged: busybox:latest");
    assert_eq!(e.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    e.ok(&["image", "prune", "-af"]);
    assert_eq!(
        e.ok(&["images", "-q", "--no-trunc"]).trim(),
        id,
        "prune keeps used images"
    );
}

/// The first commands on a new store race to set it up (its schema and WAL mode): none of
/// them may fail for it. Found by CI: switching to WAL answered "database is locked" at
/// once instead of waiting.
#[test]
fn concurrent_first_commands_on_a_new_store() {
    for _ in 0..5 {
        let e = Env::new();
        let kids: Vec<_> = (0..12)
            .map(|_| {
                Command::new(bin())
                    .arg("--root")
                    .arg(e.root())
                    .args(["images", "-q"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in kids {
            let o = k.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

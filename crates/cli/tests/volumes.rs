//! Volumes end to end through the `berth` binary, as root: `volume` commands, named and
//! anonymous volumes in real containers, populating from the image, and removal rules.

mod common;

use common::{sh, Env};
use common::{status, with_busybox};

/// busybox plus: /srv/seed (a file owned 1000:1000 mode 0640, a symlink, a subdirectory),
/// /data a symlink to /etc, and /vol/inimage under an image `VOLUME /vol`.
fn with_seeded_image() -> Env {
    let e = with_busybox();
    let tar = e.busybox_tar();
    let x = e.path("extra");
    sh(&format!(
        "set -e; mkdir -p {x}/srv/seed/sub {x}/vol; echo seeded > {x}/srv/seed/hello; \
         chown 1000:1000 {x}/srv/seed/hello; chmod 640 {x}/srv/seed/hello; \
         ln -s hello {x}/srv/seed/link; echo deep > {x}/srv/seed/sub/deep; chmod 750 {x}/srv/seed; \
         ln -s /etc {x}/data; echo inimage > {x}/vol/inimage; \
         tar -C {x} -rf {t} ./srv ./data ./vol",
        x = x.display(),
        t = tar.display()
    ));
    e.ok(&[
        "import",
        "-c",
        "VOLUME /vol",
        tar.to_str().unwrap(),
        "seeded",
    ]);
    e
}

fn volumes(e: &Env) -> Vec<String> {
    e.ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

fn is_anon_name(n: &str) -> bool {
    n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn volume_commands() {
    let e = Env::new();
    assert_eq!(e.ok(&["volume", "create", "alpha"]), "alpha\n");
    assert_eq!(
        e.ok(&["volume", "create", "--name", "beta", "--label", "tier=db"]),
        "beta\n"
    );
    // An existing name with the same driver: the existing volume, silently (Docker).
    assert_eq!(e.ok(&["volume", "create", "alpha"]), "alpha\n");
    let anon = e.ok(&["volume", "create"]);
    assert!(is_anon_name(anon.trim()), "{anon}");
    let ls = e.ok(&["volume", "ls"]);
    assert!(ls.starts_with("DRIVER    VOLUME NAME\n"), "{ls}");
    assert!(ls.contains("\nlocal     alpha\n"), "{ls}");
    assert_eq!(volumes(&e).len(), 3);
    assert_eq!(
        e.ok(&["volume", "ls", "-q", "--filter", "label=tier=db"]),
        "beta\n"
    );
    assert_eq!(
        e.ok(&[
            "volume",
            "ls",
            "-q",
            "-f",
            "name=alp",
            "-f",
            "dangling=true"
        ]),
        "alpha\n"
    );
    assert_eq!(
        e.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
            "-f",
            "label=tier"
        ]),
        "beta local tier=db\n"
    );
    let (code, _, err) = status(&e, &["volume", "ls", "-f", "colour=blue"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid filter 'colour=blue'"), "{err}");

    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", "beta"])).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], "beta");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["tier"], "db");
    assert!(v["CreatedAt"].as_str().unwrap().ends_with('Z'));
    let mp = v["Mountpoint"].as_str().unwrap();
    assert_eq!(mp, e.root().join("volumes/beta/_data").to_str().unwrap());
    assert!(std::path::Path::new(mp).is_dir());
    assert_eq!(
        e.ok(&["volume", "inspect", "-f", "{{.Driver}}/{{.Name}}", "alpha"]),
        "local/alpha\n"
    );
    let (code, out, err) = status(&e, &["volume", "inspect", "alpha", "nope"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"alpha\""), "{out}");
    assert_eq!(err, "Error: No such volume: nope\n");

    // Bad input: Docker's wording, nothing created.
    for (args, want) in [
        (
            vec!["-o", "bogus=1", "v1"],
            "create v1: invalid option: \"bogus\"",
        ),
        (
            vec!["-o", "type=tmpfs", "v2"],
            "missing required option: \"device\"",
        ),
        (
            vec!["-d", "nfs-plugin", "v3"],
            "plugin \"nfs-plugin\" not found",
        ),
        (vec!["x"], "volume name is too short"),
        (vec!["b@d"], "includes invalid characters"),
    ] {
        let mut argv = vec!["volume", "create"];
        argv.extend(args);
        let (code, _, err) = status(&e, &argv);
        assert_eq!(code, 1, "{argv:?}: {err}");
        assert!(
            err.starts_with("Error response from daemon: ") && err.contains(want),
            "{argv:?}: {err}"
        );
    }
    assert_eq!(volumes(&e).len(), 3);
    let (code, _, err) = status(&e, &["volume"]);
    assert_eq!(code, 125, "{err}");
    let (code, _, err) = status(&e, &["volume", "create", "a1", "a2"]);
    assert_eq!(code, 125, "{err}");

    assert_eq!(e.ok(&["volume", "rm", "alpha", "beta"]), "alpha\nbeta\n");
    assert!(!e.root().join("volumes/alpha").exists());
    let (code, _, err) = status(&e, &["volume", "rm", "alpha"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error response from daemon: get alpha: no such volume\n"
    );
    assert_eq!(e.ok(&["volume", "rm", "-f", "alpha"]), "");
    // Not anonymous (created by `volume create`): only prune -a takes it.
    let out = e.ok(&["volume", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = e.ok(&["volume", "prune", "-f", "-a"]);
    assert!(
        out.starts_with("Deleted Volumes:\n") && out.contains(anon.trim()),
        "{out}"
    );
    assert!(volumes(&e).is_empty());
}

#[test]
fn data_persists_and_populates_once() {
    let e = with_seeded_image();
    // Empty named volume over an image directory: the image's content, owners and modes.
    let out = e.ok(&[
        "run", "--rm", "-v", "sv:/srv/seed", "seeded", "sh", "-c",
        "cat /srv/seed/hello /srv/seed/link /srv/seed/sub/deep; stat -c '%u:%g %a' /srv/seed/hello /srv/seed; \
         echo mine > /srv/seed/new",
    ]);
    assert_eq!(
        out, "seeded\nseeded\ndeep\n1000:1000 640\n0:0 750\n",
        "populated from the image"
    );
    let data = e.root().join("volumes/sv/_data");
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap().to_str(),
        Some("hello")
    );
    // A second container sees what the first wrote.
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            "sv:/srv/seed",
            "busybox",
            "cat",
            "/srv/seed/new"
        ]),
        "mine\n"
    );
    // Emptied, it stays empty: Docker copies into a volume once.
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "sv:/srv/seed",
        "seeded",
        "sh",
        "-c",
        "rm -rf /srv/seed/*",
    ]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            "sv:/srv/seed",
            "seeded",
            "ls",
            "-A",
            "/srv/seed"
        ]),
        ""
    );
    // nocopy: no copy, and the volume keeps no mark of it.
    let out = e.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=nc,target=/srv/seed,volume-nocopy",
        "seeded",
        "ls",
        "-A",
        "/srv/seed",
    ]);
    assert_eq!(out, "");
    // A volume first mounted where the image has nothing stays empty, and is populated
    // later where the image has content.
    e.ok(&["run", "--rm", "-v", "later:/nothing", "seeded", "true"]);
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        "later:/srv/seed",
        "seeded",
        "cat",
        "/srv/seed/hello",
    ]);
    assert_eq!(out, "seeded\n");
}

#[test]
fn populate_stays_inside_the_rootfs() {
    let e = with_seeded_image();
    assert!(
        std::path::Path::new("/etc/os-release").exists()
            || std::path::Path::new("/etc/hostname").exists()
    );
    // /data is a symlink to /etc in the image: the copy follows it inside the rootfs (the
    // image's /etc), never to the host's /etc.
    e.ok(&[
        "create",
        "--name",
        "esc",
        "-v",
        "esc:/data",
        "seeded",
        "true",
    ]);
    e.ok(&["start", "esc"]);
    e.ok(&["wait", "esc"]);
    let data = e.root().join("volumes/esc/_data");
    let passwd = std::fs::read_to_string(data.join("passwd")).unwrap();
    assert_eq!(passwd, "root:x:0:0:root:/root:/bin/sh\n");
    for host_only in ["os-release", "shadow", "fstab", "machine-id"] {
        assert!(
            !data.join(host_only).exists(),
            "{host_only} copied from the host"
        );
    }
    e.ok(&["rm", "esc"]);
}

#[test]
fn anonymous_volumes_and_rm_v() {
    let e = with_seeded_image();
    e.ok(&[
        "create", "--name", "c", "-v", "/scratch", "-v", "keep:/k", "seeded", "true",
    ]);
    let mounts: serde_json::Value =
        serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .Mounts}}", "c"])).unwrap();
    let mounts = mounts.as_array().unwrap().clone();
    // -v /scratch, -v keep:/k, and the image's VOLUME /vol.
    assert_eq!(mounts.len(), 3, "{mounts:?}");
    for m in &mounts {
        assert_eq!(m["Type"], "volume");
        assert_eq!(m["Driver"], "local");
        assert_eq!(m["RW"], true);
        assert_eq!(m["Propagation"], "");
        let name = m["Name"].as_str().unwrap();
        assert_eq!(
            m["Source"].as_str().unwrap(),
            e.root()
                .join("volumes")
                .join(name)
                .join("_data")
                .to_str()
                .unwrap()
        );
    }
    let by_dest = |d: &str| {
        mounts.iter().find(|m| m["Destination"] == d).unwrap()["Name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (scratch, vol) = (by_dest("/scratch"), by_dest("/vol"));
    assert!(is_anon_name(&scratch) && is_anon_name(&vol));
    assert_eq!(by_dest("/k"), "keep");
    let anon: serde_json::Value =
        serde_json::from_str(&e.ok(&["volume", "inspect", &vol])).unwrap();
    assert_eq!(anon[0]["Labels"]["com.docker.volume.anonymous"], "");
    e.ok(&["start", "c"]);
    e.ok(&["wait", "c"]);
    // The image's volume got the image's content.
    assert_eq!(
        std::fs::read_to_string(e.root().join("volumes").join(&vol).join("_data/inimage")).unwrap(),
        "inimage\n"
    );
    // A mount of the user's at the image volume's path: no anonymous volume for it.
    e.ok(&["create", "--name", "d", "-v", "mine:/vol", "seeded", "true"]);
    let n = e.ok(&["inspect", "-f", "{{len .Mounts}}", "d"]);
    assert_eq!(n.trim(), "1");
    e.ok(&["rm", "d"]);
    // rm -v: the anonymous ones go, named ones stay.
    e.ok(&["rm", "-v", "c"]);
    let left = volumes(&e);
    assert_eq!(left, ["keep", "mine"], "{left:?}");
    // run --rm takes its anonymous volumes too.
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "/tmpdata",
        "--mount",
        "type=volume,target=/m2",
        "busybox",
        "true",
    ]);
    assert_eq!(volumes(&e), ["keep", "mine"]);
    // Without --rm or -v they stay, and `volume prune` (anonymous only) takes them once
    // their container is gone.
    e.ok(&["run", "--name", "x", "-v", "/s", "busybox", "true"]);
    assert_eq!(volumes(&e).len(), 3);
    let out = e.ok(&["volume", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n", "in use by x");
    e.ok(&["rm", "x"]);
    let out = e.ok(&["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert_eq!(volumes(&e), ["keep", "mine"]);
}

#[test]
fn volume_in_use_cannot_be_removed() {
    let e = with_busybox();
    let id = e.ok(&["create", "-v", "used:/x", "busybox", "true"]);
    let id = id.trim();
    std::fs::write(e.root().join("volumes/used/_data/f"), "kept").unwrap();
    let (code, out, err) = status(&e, &["volume", "rm", "used"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(
        err,
        format!("Error response from daemon: remove used: volume is in use - [{id}]\n")
    );
    let (code, _, _) = status(&e, &["volume", "rm", "-f", "used"]);
    assert_eq!(code, 1, "-f does not override in use");
    assert_eq!(
        e.ok(&["volume", "ls", "-q", "-f", "dangling=false"]),
        "used\n"
    );
    assert_eq!(
        e.ok(&["ps", "-aq", "--no-trunc", "-f", "volume=used"])
            .trim(),
        id
    );
    assert_eq!(e.ok(&["ps", "-aq", "-f", "volume=other"]), "");
    assert_eq!(
        e.ok(&["volume", "prune", "-af"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(
        std::fs::read_to_string(e.root().join("volumes/used/_data/f")).unwrap(),
        "kept"
    );
    // Running, too.
    e.ok(&[
        "run", "-d", "--name", "r", "-v", "used:/x", "busybox", "sleep", "100",
    ]);
    e.ok(&["rm", id]);
    let (code, _, err) = status(&e, &["volume", "rm", "used"]);
    assert_eq!(code, 1);
    assert!(err.contains("volume is in use"), "{err}");
    e.ok(&["rm", "-f", "r"]);
    assert_eq!(e.ok(&["volume", "rm", "used"]), "used\n");
}

#[test]
fn readonly_tmpfs_and_bind_volumes() {
    let e = with_busybox();
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        "ro1:/r:ro",
        "--mount",
        "type=volume,source=ro2,target=/r2,readonly",
        "busybox",
        "sh",
        "-c",
        "touch /r/f 2>/dev/null || echo ro; touch /r2/f 2>/dev/null || echo ro2",
    ]);
    assert_eq!(out, "ro\nro2\n");
    let id = e.ok(&["create", "-v", "ro1:/r:ro", "busybox", "true"]);
    let ro: serde_json::Value =
        serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .Mounts}}", id.trim()])).unwrap();
    assert_eq!(ro[0]["RW"], false);
    assert_eq!(ro[0]["Mode"], "ro");

    e.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        "tv",
    ]);
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", "tv"])).unwrap();
    assert_eq!(v[0]["Options"]["type"], "tmpfs");
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        "tv:/t",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts | cut -d' ' -f1-3; df -k /t | tail -1 | awk '{print $2}'",
    ]);
    assert_eq!(out, "tmpfs /t tmpfs\n2048\n");

    let host = e.path("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host\n").unwrap();
    let dev = format!("device={}", host.display());
    e.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &dev,
        "bv",
    ]);
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        "bv:/b",
        "busybox",
        "sh",
        "-c",
        "cat /b/h; echo back > /b/w",
    ]);
    assert_eq!(out, "from host\n");
    assert_eq!(std::fs::read_to_string(host.join("w")).unwrap(), "back\n");
    // A bind inside a volume lands on top of it, whatever the order of the flags.
    let inner = format!("{}:/n/inner:ro", host.display());
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        &inner,
        "-v",
        "nest:/n",
        "busybox",
        "cat",
        "/n/inner/h",
    ]);
    assert_eq!(out, "from host\n");
}

#[test]
fn bad_volume_specs() {
    let e = with_busybox();
    for (args, want) in [
        (vec!["-v", ":/x"], "invalid volume specification: ':/x'"),
        (
            vec!["-v", "name:relative"],
            "invalid volume specification: 'name:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute",
        ),
        (vec!["-v", "/x:ro"], "invalid volume specification: '/x:ro'"),
        (vec!["-v", "v1:/x:bogus"], "invalid mode: bogus"),
        (vec!["-v", "v1:/x", "-v", "v2:/x"], "Duplicate mount point: /x"),
        (vec!["-v", "v1:/"], "destination can't be '/'"),
        (
            vec!["--mount", "type=volume,target=/x,readonly"],
            "must not set ReadOnly mode when using anonymous volumes",
        ),
        (vec!["--mount", "type=volume,source=v1,target=rel"], "must be absolute"),
    ] {
        let mut argv = vec!["run", "--rm"];
        argv.extend(args);
        argv.extend(["busybox", "true"]);
        let (code, _, err) = status(&e, &argv);
        assert_eq!(code, 125, "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(volumes(&e).is_empty());
}

#[test]
fn concurrent_berth_processes_share_one_volume() {
    let e = with_seeded_image();
    // Several processes creating, and several containers first-using, the same names: one
    // volume each, every command succeeds, and the image content is copied once.
    let root = e.root();
    let spawn = |args: Vec<String>| {
        std::process::Command::new(common::bin())
            .arg("--root")
            .arg(&root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..4 {
            handles.push(s.spawn(|| spawn(vec!["volume".into(), "create".into(), "same".into()])));
            handles.push(s.spawn(|| {
                spawn(
                    [
                        "run",
                        "--rm",
                        "-v",
                        "racy:/srv/seed",
                        "seeded",
                        "cat",
                        "/srv/seed/hello",
                    ]
                    .map(String::from)
                    .to_vec(),
                )
            }));
        }
        for h in handles {
            let o = h.join().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out == "same\n" || out == "seeded\n", "{out}");
        }
    });
    assert_eq!(volumes(&e), ["racy", "same"]);
    let mut names: Vec<_> = std::fs::read_dir(e.root().join("volumes/racy/_data"))
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["hello", "link", "sub"]);
}

//! Differential tests: the same bundle through the runtime under test and through the
//! reference runc (/usr/sbin/runc, or BERTH_TEST_REFERENCE) must give the same `state`
//! fields, exit codes and observations from inside. With BERTH_TEST_RUNTIME=runc this
//! compares runc with itself.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{reference_runc, runtime, skip_if_not_root, Ctr, CMD_TIMEOUT};
use serde_json::{json, Value};

/// A pair of containers with identical bundles (each with its own id and cgroupsPath):
/// `.0` for the runtime under test, `.1` for the reference runc.
fn pair(name: &str, reference: PathBuf, edit: impl Fn(&mut Value)) -> (Ctr, Ctr) {
    let mut a = Ctr::new(name);
    a.edit(&edit);
    let mut b = Ctr::with_runtime(name, reference);
    let mut cfg = a.config.clone();
    cfg["linux"]["cgroupsPath"] = json!(b.cgroups_path);
    b.edit(|v| *v = cfg);
    (a, b)
}

fn reference() -> Option<PathBuf> {
    let r = reference_runc();
    if r.is_none() {
        println!("skipping: reference runc (/usr/sbin/runc) is not installed");
    }
    r
}

/// `state` with the per-container fields normalised away.
fn normalised_state(c: &Ctr) -> BTreeMap<String, Value> {
    let s = c.state().expect("state");
    let mut m: BTreeMap<String, Value> = s.as_object().unwrap().clone().into_iter().collect();
    assert_eq!(m.get("id"), Some(&json!(c.id)));
    for k in ["id", "pid", "created", "bundle"] {
        if let Some(v) = m.get_mut(k) {
            *v = json!(format!("<{k}>"));
        }
    }
    // Each runtime reports the spec version it implements (runc 1.1: "1.0.2-dev"); only
    // the major version must agree.
    if let Some(v) = m.get_mut("ociVersion") {
        assert!(
            v.as_str().is_some_and(|s| s.starts_with("1.")),
            "ociVersion {v}"
        );
        *v = json!("1.x");
    }
    // runc calls it "rootfs" (the OCI state has no such field); compare it bundle-relative.
    for k in ["rootfs", "rootfsPath"] {
        if let Some(v) = m.get_mut(k) {
            let p = v.as_str().unwrap_or_default().to_string();
            let rel = p
                .strip_prefix(&*c.bundle_path().to_string_lossy())
                .map(String::from)
                .unwrap_or(p);
            *v = json!(rel);
        }
    }
    m
}

#[test]
fn state_json_matches_reference() {
    if skip_if_not_root() {
        return;
    }
    let Some(reference) = reference() else {
        return;
    };
    let (a, b) = pair("diff-state", reference, |v| {
        v["process"]["args"] = json!(["sleep", "1000"]);
        v["annotations"] = json!({"org.example.key": "value"});
    });
    for c in [&a, &b] {
        c.create().ok("create");
    }
    let (sa, sb) = (normalised_state(&a), normalised_state(&b));
    assert_eq!(sa, sb, "created state differs");
    assert_eq!(sa.get("status"), Some(&json!("created")));
    for c in [&a, &b] {
        c.start().ok("start");
        c.wait_status("running");
    }
    assert_eq!(
        normalised_state(&a),
        normalised_state(&b),
        "running state differs"
    );
    for c in [&a, &b] {
        c.cli(&["kill", &c.id, "KILL"]).ok("kill");
        c.wait_status("stopped");
    }
    let (sa, sb) = (normalised_state(&a), normalised_state(&b));
    assert_eq!(sa, sb, "stopped state differs");
    // Both report pid 0 (or the same absence) once stopped.
    assert_eq!(
        a.state().unwrap().get("pid").map(|p| p.as_i64() == Some(0)),
        b.state().unwrap().get("pid").map(|p| p.as_i64() == Some(0)),
        "pid of a stopped container"
    );
    for c in [&a, &b] {
        c.cli(&["delete", &c.id]).ok("delete");
        c.assert_nothing_left();
    }
}

#[test]
fn exit_codes_match_reference() {
    if skip_if_not_root() {
        return;
    }
    let Some(reference) = reference() else {
        return;
    };
    for script in ["exit 0", "exit 3", "exit 255", "false"] {
        let (a, b) = pair("diff-exit", reference.clone(), |v| {
            v["process"]["args"] = json!(["sh", "-c", script]);
        });
        let (oa, ob) = (a.run(), b.run());
        assert_eq!(oa.code(), ob.code(), "{script}: {oa:?} vs {ob:?}");
        a.assert_nothing_left();
        b.assert_nothing_left();
    }
    // Killed from outside by a signal: 128+n from both.
    let (a, b) = pair("diff-sig", reference, |v| {
        v["process"]["args"] = json!(["sleep", "1000"]);
    });
    let mut codes = Vec::new();
    for c in [&a, &b] {
        let bg = c.spawn_run();
        c.wait_status("running");
        c.cli(&["kill", &c.id, "KILL"]).ok("kill");
        codes.push(bg.wait(CMD_TIMEOUT).code());
        c.assert_nothing_left();
    }
    assert_eq!(codes[0], codes[1]);
    assert_eq!(codes[0], Some(137));
}

/// Observations from inside, made comparable between two containers.
const OBSERVE: &str = r#"
for n in pid mnt uts ipc net cgroup user; do echo "ns $n $(readlink /proc/self/ns/$n)"; done
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Uid|Gid|Groups):' /proc/self/status
echo "id $(id)"
echo "hostname $(hostname)"
echo "pid $$"
echo "cwd $(pwd)"
echo "umask $(umask)"
echo "nofile $(ulimit -n) $(ulimit -Hn)"
echo "oom $(cat /proc/self/oom_score_adj)"
env | sort | sed 's/^/env /'
awk '{for (i = 7; i <= NF; i++) if ($i == "-") { print "mount", $5, $(i + 1); break }}' /proc/self/mountinfo
ls -A /dev | sed 's/^/dev /'
for d in null zero full random urandom tty; do echo "devnode $d $(stat -c '%F %t:%T %a' /dev/$d)"; done
mkdir /tmp/blocked 2>&1 | sed 's/^/mkdir /'
touch /proc/sys/kernel/hostname 2>&1 | sed 's/^/rosys /'
echo "keys $(wc -c < /proc/keys)"
"#;

/// Turns raw observation lines into a comparable list: namespace links become "new"/"host".
fn normalise_observations(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&"ns") && f.len() == 3 {
                let host = common::ns_link(&format!("/proc/self/ns/{}", f[1]));
                let same = if f[2] == host { "host" } else { "new" };
                format!("ns {} {same}", f[1])
            } else {
                l.to_string()
            }
        })
        .collect();
    // Mount order is an implementation detail; the set of (point, type) is not.
    v.sort();
    v
}

#[test]
fn inside_observations_match_reference() {
    if skip_if_not_root() {
        return;
    }
    let Some(reference) = reference() else {
        return;
    };
    let (a, b) = pair("diff-inside", reference, |v| {
        v["process"]["args"] = json!(["sh", "-c", OBSERVE]);
        v["process"]["env"] = json!(["PATH=/bin:/usr/bin", "TERM=xterm", "X=1"]);
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888}]);
        v["process"]["oomScoreAdj"] = json!(10);
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let (oa, ob) = (a.run().ok("run"), b.run().ok("run reference"));
    let (na, nb) = (
        normalise_observations(&oa.stdout),
        normalise_observations(&ob.stdout),
    );
    if na != nb {
        let only_a: Vec<_> = na.iter().filter(|l| !nb.contains(l)).collect();
        let only_b: Vec<_> = nb.iter().filter(|l| !na.contains(l)).collect();
        panic!(
            "observations differ\nonly {}: {only_a:#?}\nonly reference: {only_b:#?}",
            runtime().display()
        );
    }
    assert_eq!(oa.code(), ob.code());
    // Sanity: the observations are real.
    assert!(na.iter().any(|l| l == "ns pid new"), "{na:#?}");
    assert!(na.iter().any(|l| l.starts_with("Seccomp:")), "{na:#?}");
    assert!(
        na.iter().any(|l| l.starts_with("mount /proc proc")),
        "{na:#?}"
    );
    a.assert_nothing_left();
    b.assert_nothing_left();
}

#[test]
fn exec_observations_match_reference() {
    if skip_if_not_root() {
        return;
    }
    let Some(reference) = reference() else {
        return;
    };
    let (a, b) = pair("diff-exec", reference, |v| {
        v["process"]["args"] = json!(["sleep", "1000"]);
    });
    let mut outs = Vec::new();
    for c in [&a, &b] {
        c.run_detached().ok("run -d");
        c.wait_status("running");
        let o = c.exec(&["sh", "-c", OBSERVE]);
        // The exec'd process's pid inside depends on how many helpers the runtime forks.
        let mut obs = normalise_observations(&o.stdout);
        obs.retain(|l| !l.starts_with("pid "));
        outs.push((o.code(), obs));
        c.cli(&["delete", "--force", &c.id]).ok("delete --force");
        c.assert_nothing_left();
    }
    assert_eq!(outs[0], outs[1]);
}

//! Mutation fuzzing of every parser that reads untrusted input: config.json, mount options
//! and signal names. Deterministic (seeded), so a failure reproduces; each case must end in
//! Ok or a clean error, never a panic.

use std::path::Path;

/// xorshift64*: small, seeded, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEED_CONFIG: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
 "hostname":"h","process":{"terminal":false,"user":{"uid":0,"gid":0,"additionalGids":[1,2]},
 "args":["sh","-c","true"],"env":["PATH=/bin"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],
 "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"]},"noNewPrivileges":true,"oomScoreAdj":5},
 "mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/d","type":"bind","source":"/tmp","options":["rbind","ro"]}],
 "hooks":{"prestart":[{"path":"/bin/true","args":["true"],"timeout":1}]},
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"network","path":"/proc/self/ns/net"},{"type":"user"},{"type":"uts"}],
 "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],
 "resources":{"memory":{"limit":1048576},"cpu":{"shares":512},"pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"}]},
 "seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},
 "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"sysctl":{"net.ipv4.ip_forward":"1"},"cgroupsPath":"/x/y"}}"#;

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"-1",
    b"1e309",
    b"\"..\"",
    b"\"/../../etc\"",
    b"\"\\u0000\"",
    b"18446744073709551616",
    b"true",
    b"\"SCMP_ACT_NOTIFY\"",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            3 => data.truncate(at),
            _ => {
                // Duplicate a slice elsewhere: makes repeated keys and nested garbage.
                let start = rng.below(data.len().max(1));
                let end = (start + rng.below(64)).min(data.len());
                let chunk: Vec<u8> = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
        }
    }
}

#[test]
fn config_parser_never_panics() {
    let bundle = tempfile::tempdir().unwrap();
    std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let spec = berth_runtime::config::parse(SEED_CONFIG.as_bytes()).unwrap();
    berth_runtime::config::validate(&spec, bundle.path()).expect("the seed is valid");
    let (mut parsed, mut valid) = (0, 0);
    for _ in 0..20_000 {
        let mut data = SEED_CONFIG.as_bytes().to_vec();
        mutate(&mut rng, &mut data);
        if let Ok(spec) = berth_runtime::config::parse(&data) {
            parsed += 1;
            if berth_runtime::config::validate(&spec, bundle.path()).is_ok() {
                valid += 1;
            }
        }
    }
    // The mutations must exercise both paths, or the test proves nothing.
    assert!(parsed > 100 && valid > 10, "parsed {parsed}, valid {valid}");
}

#[test]
fn mount_options_and_signals_never_panic() {
    let mut rng = Rng(0x5eed_0000_0000_0002);
    let words = [
        "ro",
        "rw",
        "rbind",
        "bind",
        "nosuid",
        "rslave",
        "private",
        "mode=755",
        "size=1k",
        "",
        "=",
        ",",
        "idmap",
        "\u{0}",
        "tmpcopyup",
        "rshared",
        "remount",
    ];
    for _ in 0..20_000 {
        let opts: Vec<String> = (0..rng.below(6))
            .map(|_| {
                let mut w = words[rng.below(words.len())].as_bytes().to_vec();
                mutate(&mut rng, &mut w);
                String::from_utf8_lossy(&w).into_owned()
            })
            .collect();
        let _ = berth_runtime::rootfs::parse_options(&opts);
        let mut sig = b"SIGKILL".to_vec();
        mutate(&mut rng, &mut sig);
        let _ = berth_runtime::kill::parse_signal(&String::from_utf8_lossy(&sig));
    }
}

#[test]
fn truncated_configs_are_rejected_with_a_message() {
    let bundle = Path::new("/nonexistent-bundle");
    for n in 0..SEED_CONFIG.len() {
        if let Err(msg) = berth_runtime::config::parse(&SEED_CONFIG.as_bytes()[..n]) {
            assert!(msg.contains("invalid JSON"), "{msg}");
        } else {
            // A prefix that happens to parse must still be checked, not trusted.
            let spec = berth_runtime::config::parse(&SEED_CONFIG.as_bytes()[..n]).unwrap();
            let _ = berth_runtime::config::validate(&spec, bundle);
        }
    }
}

//! The harness for `berth` tests that touch the kernel's networking (bridges, addresses,
//! the `inet berth` nftables table): each one re-executes this test binary under
//! `unshare --net`, filtered to itself, so everything berth makes lives in a throwaway
//! network namespace and the host's is never touched. `berth` and `nft`, children of the
//! inner process, land in that namespace too. Same scheme as crates/network/tests.

use std::process::Command;

const MARKER: &str = "BERTH_CLI_NETNS_TEST";

/// Whether this process is the inner, isolated run of a test.
pub fn inside() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// Runs `body` in a fresh network namespace (with `lo` up): in the inner process when this
/// is it, otherwise by re-executing the test binary under `unshare --net` for test `name`
/// only, and checking that exactly that test ran and passed. Fails loudly when the
/// namespace can't be had (not root, no unshare): these tests are expected to run.
pub fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(MARKER).as_deref() == Ok(name) {
        let st = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip (iproute2)");
        assert!(st.success(), "{name}: ip link set lo up");
        body();
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{name}: needs root to create network namespaces"
    );
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARKER, name)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{name}: run unshare (util-linux) for {}: {e}",
                exe.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- inner stdout ---\n{stdout}\n--- inner stderr ---\n{stderr}");
    assert!(
        out.status.success(),
        "{name}: the isolated run failed ({})",
        out.status
    );
    // A typo in the name would run nothing and pass: insist on exactly this one test.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name}: the isolated run did not run exactly this test"
    );
}

/// `ip -j ARGS` in the current namespace, parsed.
pub fn ip_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new("ip")
        .arg("-j")
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip -j {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Whether a link of this name exists in the current namespace.
pub fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The IPv4 addresses (`a.b.c.d/n`) of a link.
pub fn addresses(link: &str) -> Vec<String> {
    let v = ip_json(&["-4", "addr", "show", "dev", link]);
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            format!(
                "{}/{}",
                a["local"].as_str().unwrap_or_default(),
                a["prefixlen"]
            )
        })
        .collect()
}

/// The names of the links whose name starts with `prefix`.
pub fn links_with_prefix(prefix: &str) -> Vec<String> {
    let v = ip_json(&["link", "show"]);
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["ifname"].as_str())
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// `nft -j list table inet berth`, None when there is no such table.
pub fn berth_table() -> Option<String> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "inet", "berth"])
        .output()
        .expect("run nft");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

//! Build facts `berth version` reports: the compiler, the commit and the build time.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc (unknown)".into());
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "rustc1.95.0", shaped like Go's "go1.20.10".
    let short = version
        .split_whitespace()
        .nth(1)
        .map_or(version.clone(), |v| format!("rustc{v}"));
    let commit =
        output("git", &["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let built = output("date", &["-u", "+%a %b %e %H:%M:%S %Y"]).unwrap_or_default();
    println!("cargo:rustc-env=BERTH_RUSTC_VERSION={short}");
    println!("cargo:rustc-env=BERTH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=BERTH_BUILT={built}");
    // Re-run when the sources change, so the commit and time stay roughly current without
    // re-running on every build.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
}

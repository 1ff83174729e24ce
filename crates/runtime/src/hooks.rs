//! OCI hooks: programs run at lifecycle points with the state JSON on stdin.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs `hooks` in order, stopping at the first failure.
pub fn run(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    for h in hooks {
        run_one(kind, h, state_json)?;
    }
    Ok(())
}

/// Runs every hook and collects failures as warnings (poststart, poststop: the spec says a
/// failure there is logged and the lifecycle goes on).
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Vec<String> {
    hooks
        .iter()
        .filter_map(|h| run_one(kind, h, state_json).err().map(|e| e.to_string()))
        .collect()
}

fn run_one(kind: &'static str, h: &Hook, state_json: &[u8]) -> Result<()> {
    let fail = |msg: String| Error::Hook {
        kind,
        path: h.path().clone(),
        msg,
    };
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin: that is not a failure.
        let _ = stdin.write_all(state_json);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut pause = Duration::from_micros(200);
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break s;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                h.timeout().unwrap_or_default()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.by_ref().take(4096).read_to_string(&mut err);
    }
    Err(fail(format!("{status}: {}", err.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn state_reaches_stdin_and_failures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {}"]}}"#,
            out.display()
        ));
        run("prestart", &[h], b"{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}");
        let bad = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo boom >&2; exit 3"]}"#);
        let e = run("poststart", &[bad], b"").unwrap_err().to_string();
        assert!(
            e.contains("poststart hook /bin/sh") && e.contains("boom"),
            "{e}"
        );
        let slow = hook(r#"{"path":"/bin/sh","args":["sh","-c","sleep 5"],"timeout":1}"#);
        let t = Instant::now();
        let e = run("createRuntime", &[slow], b"").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        let missing = hook(r#"{"path":"/nonexistent/hook"}"#);
        assert!(run_all("poststop", &[missing], b"")[0].contains("/nonexistent/hook"));
    }
}

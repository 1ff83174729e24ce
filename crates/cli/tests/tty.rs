//! `-t`, `attach`, detach keys and `exec -t`, driven through real terminals (tmux panes).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{bin, have, sh, Env};

/// A tmux server of the test's own, with one pane running a shell command.
struct Term {
    sock: String,
    out: PathBuf,
}

impl Term {
    /// Runs `cmd` in a fresh `cols`x`rows` pane; its exit status lands in `out`.
    fn start(e: &Env, name: &str, cmd: &str, cols: u16, rows: u16) -> Term {
        let sock = format!("berth-test-{}-{name}", std::process::id());
        let out = e.path(&format!("{name}.status"));
        let script = format!("{cmd}; echo $? > {}; sleep 60", out.display());
        sh(&format!(
            "tmux -L {sock} new-session -d -s t -x {cols} -y {rows} {}",
            shell_quote(&script)
        ));
        Term { sock, out }
    }
    fn keys(&self, keys: &[&str]) {
        let args: Vec<String> = keys.iter().map(|k| shell_quote(k)).collect();
        sh(&format!(
            "tmux -L {} send-keys -t t {}",
            self.sock,
            args.join(" ")
        ));
    }
    fn screen(&self) -> String {
        sh(&format!("tmux -L {} capture-pane -p -t t", self.sock))
    }
    fn resize(&self, cols: u16, rows: u16) {
        sh(&format!(
            "tmux -L {} resize-window -t t -x {cols} -y {rows}",
            self.sock
        ));
    }
    /// Waits until the screen shows `text`.
    fn expect(&self, text: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no {text:?} on screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// The pane's command's exit status, once it has one.
    fn status(&self) -> i32 {
        let t = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.out) {
                if !s.trim().is_empty() {
                    return s.trim().parse().unwrap();
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no exit status; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.sock, "kill-server"])
            .output();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn berth(e: &Env) -> String {
    format!("{} --root {}", bin().display(), e.root().display())
}

fn setup() -> Option<Env> {
    if !have("tmux") {
        return None;
    }
    let e = Env::new();
    e.import_busybox("busybox:latest");
    Some(e)
}

#[test]
fn run_it_is_a_real_terminal_that_resizes_and_returns_the_status() {
    let Some(e) = setup() else { return };
    let t = Term::start(
        &e,
        "run",
        &format!("{} run -it --rm busybox sh", berth(&e)),
        91,
        27,
    );
    t.expect("/ #");
    t.keys(&["tty; stty size; echo $((6*7))", "Enter"]);
    let s = t.expect("42");
    assert!(s.contains("/dev/pts/0"), "{s}");
    assert!(s.contains("27 91"), "{s}");
    t.resize(120, 40);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["stty size", "Enter"]);
    t.expect("40 120");
    // Raw mode: ctrl-c reaches the container's terminal (and its shell), not us.
    t.keys(&["sleep 30", "Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.keys(&["echo after-$((1+1))", "Enter"]);
    t.expect("after-2");
    t.keys(&["exit 7", "Enter"]);
    assert_eq!(t.status(), 7);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn detach_keys_leave_it_running_and_attach_comes_back() {
    let Some(e) = setup() else { return };
    let t = Term::start(
        &e,
        "detach",
        &format!("{} run -it --name box busybox sh", berth(&e)),
        80,
        24,
    );
    t.expect("/ #");
    t.keys(&["echo first", "Enter"]);
    t.expect("first");
    t.keys(&["C-p", "C-q"]);
    assert_eq!(t.status(), 0, "run exits 0 on detach");
    let st = e.ok(&["inspect", "-f", "{{.State.Status}}", "box"]);
    assert_eq!(st.trim(), "running");

    // attach, then detach again: docker's message and status 1.
    let a = Term::start(&e, "attach1", &format!("{} attach box", berth(&e)), 80, 24);
    a.keys(&["echo second", "Enter"]);
    a.expect("second");
    a.keys(&["C-p", "C-q"]);
    assert_eq!(a.status(), 1);
    a.expect("read escape sequence");
    drop(a);

    // Custom keys, and the container's own exit status through attach.
    let b = Term::start(
        &e,
        "attach2",
        &format!("{} attach --detach-keys ctrl-x,x box", berth(&e)),
        80,
        24,
    );
    b.keys(&["echo third", "Enter"]);
    b.expect("third");
    b.keys(&["exit 3", "Enter"]);
    assert_eq!(b.status(), 3);
    let st = e.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "box",
    ]);
    assert_eq!(st.trim(), "exited 3");
    // What happened on the terminal is in the log, as docker keeps it.
    let logs = e.ok(&["logs", "box"]);
    assert!(logs.contains("first") && logs.contains("third"), "{logs}");
    let err = e.fails(&["attach", "box"]);
    assert!(
        err.contains("You cannot attach to a stopped container"),
        "{err}"
    );
    let err = e.fails(&["attach", "--detach-keys", "ctrl-", "box"]);
    assert!(err.contains("Invalid detach keys"), "{err}");
}

#[test]
fn exec_t_gets_its_own_terminal() {
    let Some(e) = setup() else { return };
    e.ok(&["run", "-d", "--name", "x", "busybox", "sleep", "100"]);
    let t = Term::start(&e, "exec", &format!("{} exec -it x sh", berth(&e)), 77, 21);
    t.expect("/ #");
    t.keys(&["tty; stty size; exit 4", "Enter"]);
    assert_eq!(t.status(), 4);
    let s = t.screen();
    assert!(s.contains("/dev/pts/0") && s.contains("21 77"), "{s}");
    // -t without a terminal of ours: still a pty inside, and the status comes back.
    let o = e.berth(&["exec", "-t", "x", "sh", "-c", "tty; exit 5"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stdout).contains("/dev/pts/"));
    // -it with stdin that is no terminal: docker's refusal.
    let o = e.berth(&["exec", "-it", "x", "sh"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the input device is not a TTY"));
    e.ok(&["rm", "-f", "x"]);
}

#[test]
fn attach_without_a_terminal_streams_output_and_stdin() {
    let Some(e) = setup() else { return };
    // -t without -i and without a terminal of ours: output through the pty, our status.
    let o = e.berth(&["run", "-t", "--rm", "busybox", "sh", "-c", "tty; exit 6"]);
    assert_eq!(o.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&o.stdout).contains("/dev/pts/0"));
    let o = e.berth(&["run", "-it", "--name", "notty", "busybox", "sh"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the input device is not a TTY"));
    assert_eq!(e.ok(&["ps", "-aq"]), "", "nothing created");

    // A -di container keeps its stdin open for whoever attaches.
    let id = e.ok(&[
        "run",
        "-di",
        "--name",
        "echoer",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo got-$l; [ $l = stop ] && exit 9; done",
    ]);
    assert!(!id.trim().is_empty());
    let out = sh(&format!(
        "(echo one; sleep 0.5; echo stop) | {} attach echoer; echo status=$?",
        berth(&e)
    ));
    assert!(out.contains("got-one") && out.contains("got-stop"), "{out}");
    assert!(out.contains("status=9"), "{out}");

    // Output of a running container reaches a late attach, stdout and stderr apart.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; for i in 1 2 3; do echo out-$i; echo err-$i >&2; sleep 0.2; done",
    ]);
    let out = sh(&format!(
        "{} attach ticker 2>{}; echo status=$?",
        berth(&e),
        e.path("attach.err").display()
    ));
    let err = std::fs::read_to_string(e.path("attach.err")).unwrap();
    assert!(out.contains("out-3") && !out.contains("err-"), "{out}");
    assert!(err.contains("err-3"), "{err}");
    assert!(out.contains("status=0"), "{out}");
}

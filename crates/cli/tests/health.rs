//! Healthchecks end to end: real containers whose monitors run the probes, as root.

mod common;

use std::time::{Duration, Instant};

use common::with_busybox;
use common::Env;
use serde_json::Value;

fn inspect(e: &Env, id: &str) -> Value {
    let out = e.ok(&["inspect", id]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

/// Polls the container's inspect output until `pred` holds; panics with the last one after
/// `secs` seconds.
fn until(e: &Env, id: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = inspect(e, id);
        if pred(&v) {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out; last state: {:#}",
            v["State"]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn health_status(v: &Value) -> &str {
    v["State"]["Health"]["Status"].as_str().unwrap_or("")
}

fn run_d(e: &Env, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    e.ok(&a).trim().to_string()
}

fn ps_status(e: &Env, id: &str) -> String {
    e.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("id={id}"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

#[test]
fn a_passing_check_becomes_healthy() {
    let e = with_busybox();
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "echo ok",
            "--health-interval",
            "200ms",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let v = until(&e, &id, 20, |v| health_status(v) == "healthy");
    let h = &v["State"]["Health"];
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().unwrap();
    assert!(!log.is_empty());
    assert_eq!(log[0]["ExitCode"], 0);
    assert_eq!(log[0]["Output"], "ok\n");
    for k in ["Start", "End"] {
        assert!(log[0][k].as_str().unwrap().ends_with('Z'), "{log:?}");
    }
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo ok"], "Interval": 200_000_000})
    );
    let status = ps_status(&e, &id);
    assert!(
        status.starts_with("Up ") && status.ends_with(" (healthy)"),
        "{status}"
    );
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Health.Status}}", &id]),
        "healthy\n"
    );
    // The log keeps the last five results.
    until(&e, &id, 20, |v| {
        v["State"]["Health"]["Log"].as_array().map_or(0, Vec::len) == 5
    });
    std::thread::sleep(Duration::from_millis(600));
    let v = inspect(&e, &id);
    assert_eq!(v["State"]["Health"]["Log"].as_array().unwrap().len(), 5);
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn a_failing_check_becomes_unhealthy_after_its_retries() {
    let e = with_busybox();
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "echo bad >&2; exit 3",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let v = until(&e, &id, 20, |v| {
        v["State"]["Health"]["Log"].as_array().map_or(0, Vec::len) >= 1
    });
    let h = &v["State"]["Health"];
    if h["Log"].as_array().unwrap().len() == 1 {
        // One failure of two allowed: still starting.
        assert_eq!(h["Status"], "starting", "{h}");
        assert_eq!(h["FailingStreak"], 1, "{h}");
    }
    let v = until(&e, &id, 20, |v| health_status(v) == "unhealthy");
    let h = &v["State"]["Health"];
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 3);
    assert_eq!(last["Output"], "bad\n");
    assert!(ps_status(&e, &id).ends_with(" (unhealthy)"));
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_recorded() {
    let e = with_busybox();
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "echo started; sleep 5",
            "--health-interval",
            "100ms",
            "--health-timeout",
            "300ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let v = until(&e, &id, 20, |v| health_status(v) == "unhealthy");
    let first = &v["State"]["Health"]["Log"][0];
    assert_eq!(first["ExitCode"], -1);
    assert_eq!(
        first["Output"],
        "Health check exceeded timeout (300ms): started\n"
    );
    // Killed at the timeout, not when the sleep ended.
    let secs = |k: &str| {
        let t = first[k].as_str().unwrap();
        let (_, rest) = t.split_at(17);
        rest.trim_end_matches('Z').parse::<f64>().unwrap()
    };
    let took = (secs("End") - secs("Start") + 60.0) % 60.0;
    assert!((0.25..3.0).contains(&took), "{first}");
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let e = with_busybox();
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "exit 1",
            "--health-retries",
            "1",
            "--health-interval",
            "100ms",
            "--health-start-period",
            "3s",
            "--health-start-interval",
            "100ms",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let v = until(&e, &id, 20, |v| {
        v["State"]["Health"]["Log"].as_array().map_or(0, Vec::len) >= 2
    });
    let h = &v["State"]["Health"];
    let started = Instant::now();
    if h["Status"] == "starting" {
        assert_eq!(h["FailingStreak"], 0, "{h}");
    }
    // After the period, one failure is enough.
    let v = until(&e, &id, 20, |v| health_status(v) == "unhealthy");
    // One failure made it unhealthy; under load another probe (100 ms apart) may already
    // have added to the streak by the time we look.
    assert!(
        v["State"]["Health"]["FailingStreak"].as_i64() >= Some(1),
        "{v}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    e.ok(&["rm", "-f", &id]);

    // A success in the start period makes it healthy at once, probed every start interval
    // (not every interval, 30s by default).
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "true",
            "--health-start-period",
            "60s",
            "--health-start-interval",
            "100ms",
            "busybox",
            "sleep",
            "100",
        ],
    );
    until(&e, &id, 10, |v| health_status(v) == "healthy");
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn no_healthcheck_and_image_none_disable_it() {
    let e = with_busybox();
    let base = e
        .ok(&[
            "create",
            "--health-cmd",
            "true",
            "--health-interval",
            "100ms",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    e.ok(&["commit", &base, "checked:1"]);
    let id = run_d(&e, &["--no-healthcheck", "checked:1", "sleep", "100"]);
    let v = inspect(&e, &id);
    assert_eq!(
        v["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    std::thread::sleep(Duration::from_millis(500));
    let v = inspect(&e, &id);
    assert!(v["State"].get("Health").is_none(), "{}", v["State"]);
    let status = ps_status(&e, &id);
    assert!(!status.contains('('), "{status}");
    e.ok(&["rm", "-f", &id]);

    e.ok(&[
        "commit",
        "--change",
        "HEALTHCHECK NONE",
        &base,
        "checked:none",
    ]);
    let img = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}}",
        "checked:none",
    ]);
    assert_eq!(img.trim(), r#"{"Test":["NONE"]}"#);
    let id = run_d(&e, &["checked:none", "sleep", "100"]);
    std::thread::sleep(Duration::from_millis(500));
    let v = inspect(&e, &id);
    assert!(v["State"].get("Health").is_none(), "{}", v["State"]);
    assert_eq!(
        e.ok(&["ps", "-q", "--no-trunc", "--filter", "health=none"])
            .trim(),
        id
    );
    e.ok(&["rm", "-f", &id, &base]);
}

#[test]
fn the_image_healthcheck_is_inherited_and_overridden_field_by_field() {
    let e = with_busybox();
    let base = e
        .ok(&[
            "create",
            "--health-cmd",
            "echo from-image",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    e.ok(&["commit", &base, "checked:1"]);
    let img = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}}",
        "checked:1",
    ]);
    let img: Value = serde_json::from_str(&img).unwrap();
    assert_eq!(
        img,
        serde_json::json!({"Test": ["CMD-SHELL", "echo from-image"], "Interval": 100_000_000, "Retries": 2})
    );
    let inherited = run_d(&e, &["checked:1", "sleep", "100"]);
    let v = until(&e, &inherited, 20, |v| health_status(v) == "healthy");
    assert_eq!(v["Config"]["Healthcheck"], img);
    assert_eq!(v["State"]["Health"]["Log"][0]["Output"], "from-image\n");

    let overridden = run_d(
        &e,
        &[
            "--health-cmd",
            "exit 1",
            "--health-timeout",
            "5s",
            "checked:1",
            "sleep",
            "100",
        ],
    );
    let v = until(&e, &overridden, 20, |v| health_status(v) == "unhealthy");
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "exit 1"], "Interval": 100_000_000, "Timeout": 5_000_000_000i64, "Retries": 2})
    );
    assert_eq!(v["State"]["Health"]["FailingStreak"], 2);

    // A HEALTHCHECK change replaces it.
    e.ok(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=1s --retries=4 CMD [\"true\"]",
        &base,
        "checked:2",
    ]);
    let img = e.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}}",
        "checked:2",
    ]);
    assert_eq!(
        img.trim(),
        r#"{"Interval":1000000000,"Retries":4,"Test":["CMD","true"]}"#
    );
    e.ok(&["rm", "-f", &inherited, &overridden, &base]);
}

#[test]
fn ps_filters_on_health() {
    let e = with_busybox();
    let healthy = run_d(
        &e,
        &[
            "--health-cmd",
            "true",
            "--health-interval",
            "100ms",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let unhealthy = run_d(
        &e,
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "100",
        ],
    );
    // The first probe is an hour away.
    let starting = run_d(
        &e,
        &[
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let none = run_d(&e, &["busybox", "sleep", "100"]);
    until(&e, &healthy, 20, |v| health_status(v) == "healthy");
    until(&e, &unhealthy, 20, |v| health_status(v) == "unhealthy");
    for (want, id) in [
        ("healthy", &healthy),
        ("unhealthy", &unhealthy),
        ("starting", &starting),
        ("none", &none),
    ] {
        let got = e.ok(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("health={want}"),
        ]);
        assert_eq!(got.trim(), id.as_str(), "health={want}");
    }
    assert!(ps_status(&e, &starting).ends_with(" (health: starting)"));
    let o = e.berth(&["ps", "--filter", "health=sick"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unrecognised filter value for health: sick")
    );
    e.ok(&["rm", "-f", &healthy, &unhealthy, &starting, &none]);
}

#[test]
fn bad_health_flags_fail_with_125_and_create_nothing() {
    let e = with_busybox();
    for (flags, msg) in [
        (
            &["--health-interval", "-1s"][..],
            "--health-interval cannot be negative",
        ),
        (
            &["--health-retries", "-1"][..],
            "--health-retries cannot be negative",
        ),
        (
            &["--health-timeout", "abc"][..],
            "invalid argument \"abc\" for \"--health-timeout\" flag: time: invalid duration \"abc\"",
        ),
        (
            &["--health-interval", "500us"][..],
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            &["--health-start-period", "10ns", "--health-cmd", "true"][..],
            "StartPeriod in Healthcheck cannot be less than 1ms",
        ),
        (
            &["--no-healthcheck", "--health-cmd", "true"][..],
            "--no-healthcheck conflicts with --health-* options",
        ),
        (
            &["--health-retries", "x"][..],
            "strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
    ] {
        for cmd in ["run", "create"] {
            let mut a = vec![cmd];
            a.extend_from_slice(flags);
            a.extend_from_slice(&["busybox", "true"]);
            let o = e.berth(&a);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(125), "{a:?}: {err}");
            assert!(err.contains(msg), "{a:?}: {err}");
        }
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

#[test]
fn probes_leave_the_exit_code_and_logs_alone() {
    let e = with_busybox();
    let o = e.berth(&[
        "run",
        "--name",
        "quiet",
        "--health-cmd",
        "echo probe-output; echo probe-error >&2",
        "--health-interval",
        "100ms",
        "busybox",
        "sh",
        "-c",
        "echo out; sleep 1; echo err >&2; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    let logs = e.berth(&["logs", "quiet"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    // The probes ran, with stdout and stderr in their output, and the status stays.
    let v = inspect(&e, "quiet");
    let h = &v["State"]["Health"];
    assert_eq!(h["Status"], "healthy", "{h}");
    assert_eq!(h["Log"][0]["Output"], "probe-output\nprobe-error\n");
    assert_eq!(v["State"]["ExitCode"], 7);
    let status = ps_status(&e, v["Id"].as_str().unwrap());
    assert!(status.starts_with("Exited (7)"), "{status}");
    assert_eq!(
        e.ok(&["ps", "-aq", "--filter", "health=healthy"]).trim(),
        &v["Id"].as_str().unwrap()[..12]
    );
    // A new start begins again from starting (the next probe is a while away).
    e.ok(&["rm", "quiet"]);
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "busybox",
            "sleep",
            "100",
        ],
    );
    until(&e, &id, 20, |v| health_status(v) == "healthy");
    e.ok(&["stop", "-t", "0", &id]);
    assert_eq!(health_status(&inspect(&e, &id)), "healthy");
    e.ok(&["start", &id]);
    let v = inspect(&e, &id);
    assert_eq!(health_status(&v), "starting", "{}", v["State"]);
    assert_eq!(v["State"]["Health"]["FailingStreak"], 0);
    assert!(!v["State"]["Health"]["Log"].as_array().unwrap().is_empty());
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn stopping_does_not_wait_for_a_running_probe() {
    let e = with_busybox();
    let id = run_d(
        &e,
        &[
            "--health-cmd",
            "sleep 37",
            "--health-interval",
            "100ms",
            "--health-timeout",
            "60s",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    // Let a probe start.
    std::thread::sleep(Duration::from_millis(700));
    let t = Instant::now();
    e.ok(&["stop", &id]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let v = inspect(&e, &id);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 0);
    // The cancelled probe was not recorded.
    assert_eq!(v["State"]["Health"]["Log"], serde_json::json!([]));
    assert_eq!(health_status(&v), "starting");
    e.ok(&["rm", &id]);
}

//! Property tests for the engine's parsers of untrusted input: the attach socket's frames
//! and the detach keys, Go durations, `-v` specs and binds, json-file logs, and container
//! records as the database keeps them.
//!
//! Every parser must return (an error, usually) on anything, never panic; what it accepts
//! must be what it says (a frame no larger than allowed, an absolute clean destination, the
//! value Go would give); errors name the value at fault.

use berth_engine::attach::{
    parse_detach_keys, scan_detach, write_frame, Frames, MAX_FRAME, STDERR, STDIN, STDOUT,
};
use berth_engine::container::{self, Container};
use berth_engine::health::{self, go_duration, parse_go_duration};
use berth_engine::logs;
use berth_engine::spec::bind_mount;
use berth_engine::volume::parse_spec;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

/// `n` cases, and no regression files (proptest would look for a lib.rs to put them by).
fn cases(n: u32) -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(n)
    }
}

/// Cuts `data` into pieces of the given sizes (cycled; a zero size counts as one).
fn chunked<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < data.len() {
        let n = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (i + n).min(data.len());
        out.push(&data[i..end]);
        i = end;
        k += 1;
    }
    out
}

/// Feeds `pieces` to a decoder and collects its frames until the end or its first error.
fn decode(pieces: &[&[u8]]) -> (Vec<(u8, Vec<u8>)>, bool) {
    let mut f = Frames::default();
    let mut got = Vec::new();
    for p in pieces {
        f.push(p);
        loop {
            match f.next_frame() {
                Ok(Some(x)) => got.push(x),
                Ok(None) => break,
                Err(_) => return (got, true),
            }
        }
    }
    (got, false)
}

// ---------------------------------------------------------------------------------------
// The attach socket

proptest! {
    #![proptest_config(cases(256))]

    /// Bytes from a client that is not ours: no panic, no frame over the limit, and an
    /// error only for a header announcing more than the limit.
    #[test]
    fn frames_survive_random_bytes(
        data in prop::collection::vec(any::<u8>(), 0..512),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let (got, failed) = decode(&chunked(&data, &sizes));
        let mut used = 0;
        for (_, payload) in &got {
            prop_assert!(payload.len() <= MAX_FRAME);
            used += 8 + payload.len();
        }
        if failed {
            let head = &data[used..used + 8];
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            prop_assert!(len > MAX_FRAME);
        }
    }

    /// Headers that claim any length: refused past the limit, waited for below it.
    #[test]
    fn frames_check_every_length(stream in any::<u8>(), len in any::<u32>()) {
        let mut f = Frames::default();
        let mut head = vec![stream, 0, 0, 0];
        head.extend_from_slice(&len.to_be_bytes());
        f.push(&head);
        let r = f.next_frame();
        if len as usize > MAX_FRAME {
            let msg = r.unwrap_err().to_string();
            prop_assert!(msg.contains(&len.to_string()), "{}", msg);
        } else if len == 0 {
            prop_assert_eq!(r.unwrap(), Some((stream, Vec::new())));
        } else {
            prop_assert_eq!(r.unwrap(), None);
        }
    }

    /// Whatever is written with `write_frame` comes back frame for frame, however the
    /// bytes are cut on the way.
    #[test]
    fn frames_round_trip_under_any_chunking(
        frames in prop::collection::vec(
            (prop::sample::select(vec![STDIN, STDOUT, STDERR, 3, 255]),
             prop::collection::vec(any::<u8>(), 0..300)),
            0..12),
        sizes in prop::collection::vec(1usize..100, 1..8),
    ) {
        let mut wire = Vec::new();
        for (s, d) in &frames {
            write_frame(&mut wire, *s, d).unwrap();
        }
        let (got, failed) = decode(&chunked(&wire, &sizes));
        prop_assert!(!failed);
        prop_assert_eq!(got, frames);
    }
}

/// Data larger than a frame may be goes out as several, each one the reader takes.
#[test]
fn large_writes_split_into_frames_the_reader_takes() {
    let data: Vec<u8> = (0..2 * MAX_FRAME + 5).map(|i| (i % 251) as u8).collect();
    let mut wire = Vec::new();
    write_frame(&mut wire, STDOUT, &data).unwrap();
    let (got, failed) = decode(&chunked(&wire, &[65536]));
    assert!(!failed);
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|(s, d)| *s == STDOUT && d.len() <= MAX_FRAME));
    assert_eq!(got.concat_payloads(), data);
}

trait Concat {
    fn concat_payloads(&self) -> Vec<u8>;
}
impl Concat for Vec<(u8, Vec<u8>)> {
    fn concat_payloads(&self) -> Vec<u8> {
        self.iter().flat_map(|(_, d)| d.iter().copied()).collect()
    }
}

/// moby/term's table: `ctrl-@`, `ctrl-a`..`ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`,
/// `ctrl-_` are 0 to 31.
fn ctrl_code(c: &str) -> Option<u8> {
    const TABLE: &str = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    let mut chars = c.chars();
    let ch = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    TABLE.find(ch).map(|i| i as u8)
}

proptest! {
    #![proptest_config(cases(256))]

    /// `--detach-keys`: never a panic; what parses is Docker's reading, key for key; an
    /// error quotes the value.
    #[test]
    fn detach_keys_parse_as_moby_term(
        spec in prop_oneof![
            ".{0,12}",
            prop::collection::vec(
                prop_oneof![
                    "ctrl-[a-zA-Z@\\[\\\\\\]^_0-9 ]",
                    "ctrl-.{0,2}",
                    ".",
                    ".{0,3}",
                ],
                1..4,
            ).prop_map(|v| v.join(",")),
        ],
    ) {
        let parts: Vec<&str> = spec.split(',').collect();
        let expected: Option<Vec<u8>> = parts
            .iter()
            .map(|k| match k.strip_prefix("ctrl-") {
                Some(c) => ctrl_code(c),
                None if k.len() == 1 => Some(k.as_bytes()[0]),
                None => None,
            })
            .collect();
        match parse_detach_keys(&spec) {
            Ok(keys) => prop_assert_eq!(Some(keys), expected),
            Err(e) => {
                prop_assert_eq!(expected, None);
                let msg = e.to_string();
                prop_assert!(msg.contains(&format!("({spec})")), "{}", msg);
            }
        }
    }

    /// What a user types goes to the container less the detach sequence, wherever it
    /// starts (even inside a partial match), in order and nothing lost: the output plus
    /// what is held back is the input up to the sequence.
    #[test]
    fn detach_scan_passes_all_but_the_sequence(
        keys in prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0x10, 0x11]), 1..4),
        typed in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', 0x10, 0x11]), 0..40),
        sizes in prop::collection::vec(1usize..7, 1..5),
    ) {
        let mut matched = 0;
        let mut out = Vec::new();
        let mut detached = false;
        let mut fed = 0;
        for piece in chunked(&typed, &sizes) {
            let (o, d) = scan_detach(piece, Some(&keys), &mut matched);
            out.extend_from_slice(&o);
            fed += piece.len();
            prop_assert!(matched < keys.len());
            if d {
                detached = true;
                break;
            }
        }
        let first = typed.windows(keys.len()).position(|w| w == keys.as_slice());
        match first {
            Some(p) => {
                prop_assert!(detached);
                prop_assert_eq!(&out[..], &typed[..p]);
                prop_assert!(fed >= p + keys.len() && fed < p + keys.len() + 7);
            }
            None => {
                prop_assert!(!detached);
                out.extend_from_slice(&keys[..matched]);
                prop_assert_eq!(out, typed);
            }
        }
    }

    /// Without keys (or with none at all) everything passes, in any state.
    #[test]
    fn detach_scan_without_keys_passes_everything(
        typed in prop::collection::vec(any::<u8>(), 0..64),
        matched in 0usize..10,
    ) {
        let mut m = matched;
        prop_assert_eq!(scan_detach(&typed, None, &mut m), (typed.clone(), false));
        prop_assert_eq!(scan_detach(&typed, Some(&[]), &mut m), (typed.clone(), false));
        // A count left from longer keys is not an index into these.
        let mut m = matched;
        let _ = scan_detach(&typed, Some(b"x"), &mut m);
    }
}

// ---------------------------------------------------------------------------------------
// Go durations

/// Cases with Go's answers (`time.ParseDuration` in Go 1.22).
#[test]
fn durations_agree_with_go() {
    const H: i64 = 3_600_000_000_000;
    const M: i64 = 60_000_000_000;
    const S: i64 = 1_000_000_000;
    let ok: &[(&str, i64)] = &[
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("0s", 0),
        ("1h2m3.5s", H + 2 * M + 3 * S + S / 2),
        ("-1.5h", -(H + H / 2)),
        (".5s", S / 2),
        ("1.s", S),
        ("+5s", 5 * S),
        ("1.9ns", 1),
        ("1.0000000001s", S),
        ("1.000000000000000000000000001s", S),
        ("0.5h", H / 2),
        ("1us", 1_000),
        ("1µs", 1_000),
        ("1μs", 1_000),
        ("1.5ms", 1_500_000),
        ("1h1h", 2 * H),
        ("1m0.000000001s", M + 1),
        ("9223372036854775807ns", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("2562047h47m16.854775807s", i64::MAX),
        ("-2562047h47m16.854775808s", i64::MIN),
        ("9007199254740993ns", 9_007_199_254_740_993),
    ];
    for (s, want) in ok {
        assert_eq!(parse_go_duration(s), Ok(*want), "{s:?}");
    }
    let bad: &[(&str, &str)] = &[
        ("", "time: invalid duration \"\""),
        ("1", "time: missing unit in duration \"1\""),
        ("-", "time: invalid duration \"-\""),
        ("+", "time: invalid duration \"+\""),
        (".", "time: invalid duration \".\""),
        (".s", "time: invalid duration \".s\""),
        ("-.s", "time: invalid duration \"-.s\""),
        ("s", "time: invalid duration \"s\""),
        ("1.2.3s", "time: missing unit in duration \"1.2.3s\""),
        ("1e3s", "time: unknown unit \"e\" in duration \"1e3s\""),
        ("1s ", "time: unknown unit \"s \" in duration \"1s \""),
        (" 1s", "time: invalid duration \" 1s\""),
        ("1h-1m", "time: unknown unit \"h-\" in duration \"1h-1m\""),
        ("--1s", "time: invalid duration \"--1s\""),
        ("1d", "time: unknown unit \"d\" in duration \"1d\""),
        (
            "9223372036854775808ns",
            "time: invalid duration \"9223372036854775808ns\"",
        ),
        (
            "2562047h47m16.854775808s",
            "time: invalid duration \"2562047h47m16.854775808s\"",
        ),
        (
            "9999999999999999999h",
            "time: invalid duration \"9999999999999999999h\"",
        ),
        (
            "99999999999999999999ns",
            "time: invalid duration \"99999999999999999999ns\"",
        ),
        ("3000000h", "time: invalid duration \"3000000h\""),
        (
            "1\"s",
            "time: unknown unit \"\\\"s\" in duration \"1\\\"s\"",
        ),
        (
            "1\ts",
            "time: unknown unit \"\\x09s\" in duration \"1\\x09s\"",
        ),
    ];
    for (s, want) in bad {
        assert_eq!(
            parse_go_duration(s).unwrap_err().to_string(),
            *want,
            "{s:?}"
        );
    }
    for (ns, want) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (S / 2, "500ms"),
        (H + 2 * M + 3 * S + S / 2, "1h2m3.5s"),
        (-(H + H / 2), "-1h30m0s"),
        (i64::MAX, "2562047h47m16.854775807s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ] {
        assert_eq!(go_duration(ns), want);
    }
}

/// The exact value of a duration made of integer parts only, or None past Go's limits.
fn exact(parts: &[(u64, &str)], neg: bool) -> Option<i64> {
    let mut d: u128 = 0;
    for (v, unit) in parts {
        let mult: u128 = match *unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            _ => 3_600_000_000_000,
        };
        d += u128::from(*v) * mult;
        if d > 1 << 63 {
            return None;
        }
    }
    if neg {
        Some((d as i64).wrapping_neg())
    } else {
        i64::try_from(d).ok()
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// Every duration prints (as Go's `Duration.String()`) to text that parses back to it.
    #[test]
    fn durations_round_trip(ns in any::<i64>()) {
        let s = go_duration(ns);
        prop_assert_eq!(parse_go_duration(&s), Ok(ns), "{}", s);
    }

    /// Small durations too (the µs and ms forms).
    #[test]
    fn short_durations_round_trip(ns in -10_000_000_000i64..10_000_000_000) {
        let s = go_duration(ns);
        prop_assert_eq!(parse_go_duration(&s), Ok(ns), "{}", s);
    }

    /// Integer parts, however large: the exact sum, or an invalid duration past ±2^63 ns,
    /// never an overflow.
    #[test]
    fn integer_durations_are_exact(
        neg in any::<bool>(),
        parts in prop::collection::vec(
            (prop_oneof![0u64..1000, any::<u64>(), Just(u64::MAX)],
             prop::sample::select(vec!["ns", "us", "µs", "μs", "ms", "s", "m", "h"])),
            1..4),
    ) {
        let s = format!(
            "{}{}",
            if neg { "-" } else { "" },
            parts.iter().map(|(v, u)| format!("{v}{u}")).collect::<String>()
        );
        match exact(&parts, neg) {
            Some(want) => prop_assert_eq!(parse_go_duration(&s), Ok(want), "{}", s),
            None => prop_assert_eq!(
                parse_go_duration(&s),
                Err(health::DurationError::Invalid(s.clone()))
            ),
        }
    }

    /// Fractions are truncated, never rounded, and never exceed the next whole unit.
    #[test]
    fn fractions_truncate(int in 0u64..1000, frac in "[0-9]{1,30}",
                          unit in prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h"])) {
        let whole = parse_go_duration(&format!("{int}{unit}")).unwrap();
        let next = parse_go_duration(&format!("{}{unit}", int + 1)).unwrap();
        let got = parse_go_duration(&format!("{int}.{frac}{unit}")).unwrap();
        prop_assert!(whole <= got && got < next.max(whole + 1), "{} {} {}", whole, got, next);
    }

    /// Anything at all: no panic, and an error quotes the whole value.
    #[test]
    fn durations_never_panic(s in prop_oneof![
        ".{0,16}",
        "[-+]?([0-9]{0,22}(\\.[0-9]{0,22})?(ns|us|µs|ms|s|m|h|x|)){1,4}",
    ]) {
        match parse_go_duration(&s) {
            Ok(ns) => prop_assert_eq!(parse_go_duration(&go_duration(ns)), Ok(ns)),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("time: "), "{}", msg);
                if s.bytes().all(|b| (b' '..0x7f).contains(&b) && b != b'"' && b != b'\\') {
                    prop_assert!(msg.ends_with(&format!("\"{s}\"")), "{}", msg);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// -v and binds

fn clean_absolute(d: &str) -> bool {
    d.starts_with('/')
        && d != "/"
        && d[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

fn spec_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("data".to_string()),
        Just("v1".to_string()),
        Just("a".to_string()),
        Just("b@d".to_string()),
        Just("/host".to_string()),
        Just("/host/../x".to_string()),
        Just("./rel".to_string()),
        Just("/".to_string()),
        Just("/x".to_string()),
        Just("/x/../..".to_string()),
        Just("/a/./b//".to_string()),
        Just("/..".to_string()),
        Just("rel".to_string()),
        Just("ro".to_string()),
        Just("rw".to_string()),
        Just("ro,rw".to_string()),
        Just("nocopy".to_string()),
        Just("z,shared".to_string()),
        Just("bogus".to_string()),
        "[a-z0-9/._@-]{0,8}",
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    /// `-v` specs: no panic; a volume mounts at a clean absolute destination that isn't
    /// `/`, anonymous exactly when it has no name, read-only exactly when the mode says
    /// `ro`; a host path goes on to the bind parser, which holds binds to the same; an
    /// error names the spec, its mode, or its source.
    #[test]
    fn volume_specs(s in prop_oneof![
        ".{0,24}",
        prop::collection::vec(spec_piece(), 1..5).prop_map(|v| v.join(":")),
    ]) {
        match parse_spec(&s) {
            Ok(Some(v)) => {
                prop_assert!(clean_absolute(&v.destination), "{:?} from {:?}", v.destination, s);
                prop_assert_eq!(v.anonymous, v.name.is_empty());
                prop_assert_eq!(v.read_only, v.mode.split(',').any(|o| o == "ro"));
                prop_assert!(!(v.read_only && v.anonymous));
            }
            Ok(None) => prop_assert!(s.starts_with('/')),
            Err(e) => {
                let msg = e.to_string();
                let mode = s.splitn(3, ':').nth(2).unwrap_or_default();
                let src = s.split(':').next().unwrap_or_default();
                prop_assert!(
                    msg.contains(&format!("'{s}'"))
                        || msg == format!("invalid mode: {mode}")
                        || msg.contains(src),
                    "{} names nothing of {:?}", msg, s
                );
            }
        }
        match bind_mount(&s) {
            Ok(m) => {
                let d = m["destination"].as_str().unwrap();
                prop_assert!(clean_absolute(d), "{:?} from {:?}", d, s);
                prop_assert!(m["source"].as_str().unwrap().starts_with('/'));
                prop_assert_eq!(m["type"].as_str(), Some("bind"));
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(
                    msg.contains(&format!("'{s}'")) || msg.starts_with("invalid mode: "),
                    "{}", msg
                );
            }
        }
    }
}

/// Docker's messages for binds it refuses.
#[test]
fn bind_errors_as_docker_words_them() {
    let err = |s: &str| bind_mount(s).unwrap_err().to_string();
    assert_eq!(
        err("/a:b"),
        "invalid volume specification: '/a:b': invalid mount config for type \"bind\": invalid mount path: 'b' mount path must be absolute"
    );
    assert_eq!(
        err("/a:/"),
        "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
    );
    assert!(err("/a:/x/..").contains("destination can't be '/'"));
    assert_eq!(err("/a:/b:ro,rw"), "invalid mode: ro,rw");
    assert_eq!(err("/a:/b:bogus"), "invalid mode: bogus");
    assert_eq!(err("/a"), "invalid volume specification: '/a'");
    assert_eq!(
        err("/a:/b:ro:x"),
        "invalid volume specification: '/a:/b:ro:x'"
    );
    let m = bind_mount("/a:/b/../c/./d/:ro,rshared").unwrap();
    assert_eq!(
        m,
        json!({"destination": "/c/d", "type": "bind", "source": "/a", "options": ["rbind", "ro", "rshared"]})
    );
}

// ---------------------------------------------------------------------------------------
// json-file logs

fn entry() -> impl Strategy<Value = (String, String)> {
    (".{0,20}", prop::sample::select(vec!["stdout", "stderr"])).prop_map(|(l, s)| (l, s.into()))
}

proptest! {
    #![proptest_config(cases(128))]

    /// A log with damaged lines among good ones (cut short, not UTF-8, not JSON): every
    /// good entry is read, in order, and nothing panics.
    #[test]
    fn logs_skip_bad_lines(
        lines in prop::collection::vec(
            prop_oneof![
                entry().prop_map(Ok),
                (entry(), 0usize..40).prop_map(|(e, cut)| Err((Some(e), cut, Vec::new()))),
                prop::collection::vec(any::<u8>(), 0..30)
                    .prop_map(|b| Err((None, 0, b))),
            ],
            0..12),
        trailing_newline in any::<bool>(),
    ) {
        let line = |(log, stream): &(String, String)| {
            serde_json::to_vec(&json!({"log": log, "stream": stream, "time": "2024-01-01T00:00:00.000000000Z"})).unwrap()
        };
        let mut text = Vec::new();
        let mut want = Vec::new();
        for l in &lines {
            match l {
                Ok(e) => {
                    text.extend_from_slice(&line(e));
                    want.push(e.clone());
                }
                Err((Some(e), cut, _)) => {
                    let full = line(e);
                    // A strict prefix of a JSON object is never one.
                    text.extend_from_slice(&full[..(*cut).min(full.len() - 1)]);
                }
                Err((None, _, bytes)) => {
                    // Made invalid (and kept on its line) whatever the random bytes were.
                    text.push(0xff);
                    text.extend(bytes.iter().filter(|b| **b != b'\n'));
                }
            }
            text.push(b'\n');
        }
        if !trailing_newline {
            text.pop();
        }
        let got: Vec<(String, String)> = logs::parse(&text).into_iter().map(|e| (e.log, e.stream)).collect();
        prop_assert_eq!(got, want);
    }
}

/// The same through the files `logs` reads, rotated ones first.
#[test]
fn log_files_with_garbage_keep_their_good_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let good = |s: &str| format!("{{\"log\":\"{s}\\n\",\"stream\":\"stdout\",\"time\":\"t\"}}\n");
    std::fs::write(
        dir.path().join("c-json.log.1"),
        [good("old").as_bytes(), b"\xff\xfe garbage\n{\"log\":\"cut"].concat(),
    )
    .unwrap();
    std::fs::write(
        &path,
        [b"{\"log\":\n".as_slice(), good("new").as_bytes(), b"\0\0\0"].concat(),
    )
    .unwrap();
    let got: Vec<String> = logs::read(&path)
        .unwrap()
        .into_iter()
        .map(|e| e.log)
        .collect();
    assert_eq!(got, ["old\n", "new\n"]);
}

// ---------------------------------------------------------------------------------------
// Container records

/// The field names of a record, at every level, so random JSON meets the real fields.
const KEYS: &[&str] = &[
    "id",
    "name",
    "image",
    "created",
    "config",
    "host_config",
    "state",
    "path",
    "args",
    "status",
    "pid",
    "exit_code",
    "health",
    "healthcheck",
    "Test",
    "Interval",
    "Retries",
    "Status",
    "FailingStreak",
    "Log",
    "volumes",
    "binds",
    "tmpfs",
    "env",
    "cmd",
    "labels",
    "restart_count",
    "stopping",
    "ulimits",
    "devices",
    "x",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "", "running", "exited", "created", "abc", "NONE", "CMD"
        ])
        .prop_map(Value::from),
        ".{0,14}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any JSON object as a stored record: decoded or refused, never a panic; what decodes
    /// can be shown (short ID, health) and written back to what decodes the same.
    #[test]
    fn container_records_never_panic(
        fields in prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..8),
    ) {
        let obj = Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let text = obj.to_string();
        match container::decode(&text) {
            Ok(c) => {
                let _ = c.short_id();
                let _ = health::status_of(&c);
                let again = serde_json::to_string(&c).unwrap();
                let back = container::decode(&again).unwrap();
                prop_assert_eq!(serde_json::to_string(&back).unwrap(), again);
            }
            Err(e) => prop_assert!(e.to_string().starts_with("corrupt container record")),
        }
    }

    /// Text that isn't even JSON: an error.
    #[test]
    fn container_garbage_is_an_error(s in ".{0,40}") {
        let _ = container::decode(&s);
    }
}

/// Missing fields default, as an older record's do.
#[test]
fn container_records_default_missing_fields() {
    let c: Container = container::decode(r#"{"id":"abc"}"#).unwrap();
    assert_eq!((c.id.as_str(), c.short_id()), ("abc", "abc"));
    assert!(c.args.is_empty() && c.state.health.is_none());
    assert_eq!(container::decode("{}").unwrap().short_id(), "");
    assert_eq!(
        container::decode(r#"{"id":"0123456789abcdef"}"#)
            .unwrap()
            .short_id(),
        "0123456789ab"
    );
    assert_eq!(
        container::decode(r#"{"id":"ééééééééé"}"#)
            .unwrap()
            .short_id(),
        "éééééé"
    );
}

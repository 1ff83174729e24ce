//! Property tests for the parsers of untrusted input: manifests, indexes and configs,
//! platforms, references, digests, times, and whole image archives.
//!
//! Every parser must return (an error, usually) on anything, never panic; what parses must
//! print back to something that parses the same; and a failed `load` must leave the store as
//! it found it (nothing registered, nothing left once garbage is collected, nothing written
//! outside the store). Runs as root (the layer applier keeps owners and makes device nodes).

use std::collections::BTreeMap;
use std::path::Path;

use berth_image::archive;
use berth_image::compression::{self, Compression};
use berth_image::spec::{
    self, Descriptor, Document, History, ImageConfig, Index, Manifest, Platform, RootFs, RunConfig,
};
use berth_image::timefmt;
use berth_image::{Digest, Reference, Store};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `n` cases, and no regression files (this crate has no lib.rs for proptest to put them by).
fn cases(n: u32) -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(n)
    }
}
use serde_json::{json, Value};
use tar::{EntryType, Header};

// ---------------------------------------------------------------------------------------
// Generators

const MEDIA_TYPES: &[&str] = &[
    spec::OCI_MANIFEST,
    spec::OCI_INDEX,
    spec::OCI_CONFIG,
    spec::OCI_LAYER,
    spec::OCI_LAYER_GZIP,
    spec::DOCKER_MANIFEST,
    spec::DOCKER_LIST,
    spec::DOCKER_CONFIG,
    spec::DOCKER_LAYER_GZIP,
    "application/json",
    "text/plain",
    "",
    "application/x-nope",
];

/// The field names of every document berth reads, so random JSON meets the real parsers'
/// paths and not only their first `unknown field` branch.
const KEYS: &[&str] = &[
    "schemaVersion",
    "mediaType",
    "manifests",
    "layers",
    "config",
    "digest",
    "size",
    "platform",
    "rootfs",
    "diff_ids",
    "history",
    "architecture",
    "os",
    "variant",
    "os.version",
    "annotations",
    "urls",
    "type",
    "created",
    "created_by",
    "empty_layer",
    "author",
    "Cmd",
    "Env",
    "Entrypoint",
    "Labels",
    "ExposedPorts",
    "Healthcheck",
    "Config",
    "Layers",
    "RepoTags",
    "imageLayoutVersion",
    "io.containerd.image.name",
    "org.opencontainers.image.ref.name",
];

fn hex64() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

fn digest() -> impl Strategy<Value = Digest> {
    prop_oneof![
        hex64().prop_map(|h| format!("sha256:{h}").parse().unwrap()),
        // A few fixed ones, so that generated documents name the same blobs now and then.
        prop::sample::select(vec![b"a".as_slice(), b"b", b""]).prop_map(Digest::of),
    ]
}

/// Strings a parser might meet in a field: real values, near misses, and noise.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(MEDIA_TYPES).prop_map(str::to_string),
        prop::sample::select(vec![
            "linux",
            "windows",
            "amd64",
            "arm64",
            "arm",
            "v7",
            "v8",
            "layers",
            "busybox:latest",
            "docker.io/library/busybox:1",
            "../../etc/passwd",
            "/etc/passwd",
            "blobs/sha256/",
            "sha256:",
            "sha512:00",
        ])
        .prop_map(str::to_string),
        digest().prop_map(|d| d.to_string()),
        hex64().prop_map(|h| format!("blobs/sha256/{h}")),
        ".{0,12}",
        "[a-z0-9:/@._-]{0,24}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            1,
            2,
            3,
            -1,
            -2,
            1 << 32,
            (1 << 32) + 2,
            i64::MAX
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        text().prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => ".{0,8}",
    ]
}

/// Arbitrary JSON, with keys mostly drawn from the real field names.
fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Either `good` or, one time in four, anything at all.
fn or_noise(good: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![3 => good, 1 => any_json()].boxed()
}

/// An object with some of `fields` (each kept with probability one half).
fn some_of(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> impl Strategy<Value = Value> {
    let (names, values): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    (values, prop::collection::vec(any::<bool>(), names.len())).prop_map(move |(vals, keep)| {
        let mut m = serde_json::Map::new();
        for ((n, v), k) in names.iter().zip(vals).zip(keep) {
            if k {
                m.insert(n.to_string(), v);
            }
        }
        Value::Object(m)
    })
}

fn platform_json() -> BoxedStrategy<Value> {
    or_noise(some_of(vec![
        ("architecture", text().prop_map(Value::String).boxed()),
        ("os", text().prop_map(Value::String).boxed()),
        ("variant", text().prop_map(Value::String).boxed()),
        ("os.version", text().prop_map(Value::String).boxed()),
    ]))
}

fn descriptor_json() -> BoxedStrategy<Value> {
    or_noise(some_of(vec![
        ("mediaType", text().prop_map(Value::String).boxed()),
        (
            "digest",
            or_noise(digest().prop_map(|d| Value::String(d.to_string()))),
        ),
        ("size", or_noise(any::<u64>().prop_map(Value::from))),
        ("platform", platform_json()),
        ("annotations", any_json().boxed()),
        ("urls", any_json().boxed()),
    ]))
}

/// Manifest- and index-shaped JSON: the right keys with values that are right most of the
/// time, so that generated documents get past the first check.
fn document_json() -> impl Strategy<Value = Value> {
    let schema = prop_oneof![4 => Just(json!(2)), 1 => leaf()].boxed();
    let descs = prop::collection::vec(descriptor_json(), 0..4).prop_map(Value::Array);
    some_of(vec![
        ("schemaVersion", schema),
        ("mediaType", text().prop_map(Value::String).boxed()),
        ("config", descriptor_json()),
        ("layers", or_noise(descs.clone())),
        ("manifests", or_noise(descs)),
        ("annotations", any_json().boxed()),
    ])
}

fn config_json() -> impl Strategy<Value = Value> {
    let strings =
        || prop::collection::vec(text().prop_map(Value::String), 0..3).prop_map(Value::Array);
    let run = some_of(vec![
        ("Cmd", or_noise(strings())),
        ("Env", or_noise(strings())),
        ("Entrypoint", or_noise(strings())),
        ("User", text().prop_map(Value::String).boxed()),
        ("Labels", any_json().boxed()),
        ("ExposedPorts", any_json().boxed()),
        ("Healthcheck", any_json().boxed()),
        ("ArgsEscaped", leaf().boxed()),
    ]);
    let diff_ids = prop::collection::vec(digest().prop_map(|d| Value::String(d.to_string())), 0..4)
        .prop_map(Value::Array);
    let rootfs = some_of(vec![
        ("type", text().prop_map(Value::String).boxed()),
        ("diff_ids", or_noise(diff_ids)),
    ]);
    some_of(vec![
        ("architecture", text().prop_map(Value::String).boxed()),
        ("os", text().prop_map(Value::String).boxed()),
        ("created", text().prop_map(Value::String).boxed()),
        ("config", or_noise(run)),
        ("rootfs", or_noise(rootfs)),
        (
            "history",
            or_noise(prop::collection::vec(any_json(), 0..3).prop_map(Value::Array)),
        ),
    ])
}

// Valid values, for the round trips.

fn small_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(".{0,8}", ".{0,8}", 0..3)
}

fn platform() -> impl Strategy<Value = Platform> {
    (
        prop::sample::select(vec!["amd64", "arm64", "arm", "386", "s390x"]),
        prop::sample::select(vec!["linux", "windows"]),
        prop::option::of(prop::sample::select(vec!["v5", "v6", "v7", "v8"])),
        prop::option::of("[0-9.]{1,8}"),
    )
        .prop_map(|(a, o, v, ov)| Platform {
            architecture: a.into(),
            os: o.into(),
            variant: v.map(Into::into),
            os_version: ov,
        })
}

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (
        prop::sample::select(MEDIA_TYPES).prop_map(str::to_string),
        digest(),
        any::<u64>(),
        prop::option::of(platform()),
        prop::option::of(small_map()),
        prop::option::of(prop::collection::vec(".{0,12}", 0..2)),
    )
        .prop_map(
            |(media_type, digest, size, platform, annotations, urls)| Descriptor {
                media_type,
                digest,
                size,
                platform,
                annotations,
                urls,
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        prop::option::of(prop::sample::select(vec![
            spec::OCI_MANIFEST,
            spec::DOCKER_MANIFEST,
        ])),
        descriptor(),
        prop::collection::vec(descriptor(), 0..4),
        prop::option::of(small_map()),
    )
        .prop_map(|(mt, config, layers, annotations)| Manifest {
            schema_version: 2,
            media_type: mt.map(Into::into),
            config,
            layers,
            annotations,
        })
}

fn index() -> impl Strategy<Value = Index> {
    (
        prop::option::of(prop::sample::select(vec![
            spec::OCI_INDEX,
            spec::DOCKER_LIST,
        ])),
        prop::collection::vec(descriptor(), 0..4),
        prop::option::of(small_map()),
    )
        .prop_map(|(mt, manifests, annotations)| Index {
            schema_version: 2,
            media_type: mt.map(Into::into),
            manifests,
            annotations,
        })
}

/// JSON values that survive a trip through serde's flatten buffer unchanged: no floats
/// (serde_json's default float parsing may differ in the last bit).
fn plain_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Unknown fields (kept in `extra`): names that no known field has.
fn extra(known: &'static [&'static str]) -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map(
        "[A-Za-z_.]{1,10}".prop_filter("a known field", move |k| !known.contains(&k.as_str())),
        plain_json(),
        0..3,
    )
}

fn strings() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(prop::collection::vec(".{0,10}", 0..3))
}

fn run_config() -> impl Strategy<Value = RunConfig> {
    const KNOWN: &[&str] = &[
        "User",
        "ExposedPorts",
        "Env",
        "Entrypoint",
        "Cmd",
        "Volumes",
        "WorkingDir",
        "Labels",
        "StopSignal",
        "Healthcheck",
        "ArgsEscaped",
        "OnBuild",
        "Shell",
    ];
    let objects = || prop::option::of(prop::collection::btree_map(".{0,8}", plain_json(), 0..3));
    (
        (
            ".{0,8}",
            objects(),
            strings(),
            strings(),
            strings(),
            objects(),
        ),
        (".{0,8}", prop::option::of(small_map()), ".{0,8}"),
        (
            // Not null: a null healthcheck reads back as None.
            prop::option::of(plain_json().prop_filter("null", |v| !v.is_null())),
            prop::option::of(any::<bool>()),
            strings(),
            strings(),
            extra(KNOWN),
        ),
    )
        .prop_map(
            |(
                (user, exposed_ports, env, entrypoint, cmd, volumes),
                (working_dir, labels, stop_signal),
                (healthcheck, args_escaped, on_build, shell, extra),
            )| RunConfig {
                user,
                exposed_ports,
                env,
                entrypoint,
                cmd,
                volumes,
                working_dir,
                labels,
                stop_signal,
                healthcheck,
                args_escaped,
                on_build,
                shell,
                extra,
            },
        )
}

fn image_config() -> impl Strategy<Value = ImageConfig> {
    const KNOWN: &[&str] = &[
        "created",
        "author",
        "architecture",
        "os",
        "variant",
        "config",
        "rootfs",
        "history",
    ];
    let history = (
        prop::option::of(".{0,8}"),
        prop::option::of(".{0,8}"),
        prop::option::of(".{0,8}"),
        prop::option::of(".{0,8}"),
        any::<bool>(),
    )
        .prop_map(
            |(created, created_by, author, comment, empty_layer)| History {
                created,
                created_by,
                author,
                comment,
                empty_layer,
            },
        );
    (
        (
            prop::option::of(".{0,8}"),
            prop::option::of(".{0,8}"),
            ".{0,8}",
            ".{0,8}",
        ),
        prop::option::of(".{0,4}"),
        run_config(),
        (".{0,8}", prop::collection::vec(digest(), 0..4)),
        prop::collection::vec(history, 0..3),
        extra(KNOWN),
    )
        .prop_map(
            |(
                (created, author, architecture, os),
                variant,
                config,
                (kind, diff_ids),
                history,
                extra,
            )| {
                ImageConfig {
                    created,
                    author,
                    architecture,
                    os,
                    variant,
                    config,
                    rootfs: RootFs { kind, diff_ids },
                    history,
                    extra,
                }
            },
        )
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Documents

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn documents_from_any_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        mt in prop::option::of(prop::sample::select(MEDIA_TYPES)),
    ) {
        let _ = spec::parse_document(&bytes, mt);
        let _ = ImageConfig::parse(&bytes);
    }

    #[test]
    fn documents_from_any_json_never_panic(
        v in prop_oneof![document_json(), any_json()],
        mt in prop::option::of(prop::sample::select(MEDIA_TYPES)),
    ) {
        let bytes = serde_json::to_vec(&v).unwrap();
        match spec::parse_document(&bytes, mt) {
            // What parses is schema 2, as required, and walks on without trouble.
            Ok(Document::Index(i)) => {
                prop_assert_eq!(i.schema_version, 2);
                for want in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
                    let want = Platform::parse(want).unwrap();
                    if let Some(d) = spec::select(&i, &want) {
                        prop_assert!(want.matches(d.platform.as_ref().unwrap()));
                    }
                }
            }
            Ok(Document::Manifest(m)) => {
                prop_assert_eq!(m.schema_version, 2);
                let ids: Vec<Digest> = m.layers.iter().map(|l| l.digest.clone()).collect();
                prop_assert_eq!(spec::chain_ids(&ids).len(), ids.len());
            }
            Err(_) => {}
        }
    }

    #[test]
    fn configs_from_any_json_never_panic(v in prop_oneof![config_json(), any_json()]) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(c) = ImageConfig::parse(&bytes) {
            let _ = spec::chain_ids(&c.rootfs.diff_ids);
            // What was read is written back and read again the same (floats aside: without
            // serde_json's float_roundtrip feature, their last digit may change).
            let again = ImageConfig::parse(&serde_json::to_vec(&c).unwrap()).unwrap();
            if !has_float(&v) {
                prop_assert_eq!(again, c);
            }
        }
    }

    #[test]
    fn manifests_round_trip(
        m in manifest(),
        transport in prop::option::of(prop::sample::select(vec![
            spec::OCI_MANIFEST, spec::DOCKER_MANIFEST, "application/json", "text/plain", "",
        ])),
    ) {
        let bytes = serde_json::to_vec(&m).unwrap();
        match spec::parse_document(&bytes, transport) {
            Ok(Document::Manifest(back)) => prop_assert_eq!(back, m),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn indexes_round_trip(
        i in index(),
        transport in prop::option::of(prop::sample::select(vec![
            spec::OCI_INDEX, spec::DOCKER_LIST, "application/json", "",
        ])),
    ) {
        let bytes = serde_json::to_vec(&i).unwrap();
        match spec::parse_document(&bytes, transport) {
            Ok(Document::Index(back)) => prop_assert_eq!(back, i),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn image_configs_round_trip(c in image_config()) {
        let bytes = serde_json::to_vec(&c).unwrap();
        prop_assert_eq!(ImageConfig::parse(&bytes).unwrap(), c.clone());
        let pretty = serde_json::to_vec_pretty(&c).unwrap();
        prop_assert_eq!(ImageConfig::parse(&pretty).unwrap(), c);
    }

    #[test]
    fn platforms_parse_and_print_back(s in prop_oneof![
        ".{0,16}",
        "[a-z0-9_/-]{0,16}",
        "(linux|windows)/(amd64|x86_64|x86-64|aarch64|arm)(/v[5-8])?",
    ]) {
        if let Some(p) = Platform::parse(&s) {
            prop_assert!(!p.os.is_empty() && !p.architecture.is_empty());
            prop_assert_eq!(Platform::parse(&p.to_string()), Some(p.clone()));
            prop_assert!(p.matches(&p));
        }
    }

    #[test]
    fn select_picks_a_matching_entry_and_prefers_the_exact_variant(
        manifests in prop::collection::vec(descriptor(), 0..6),
        want in platform(),
    ) {
        let idx = Index { schema_version: 2, media_type: None, manifests, annotations: None };
        let matching: Vec<&Descriptor> = idx
            .manifests
            .iter()
            .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
            .collect();
        let got = spec::select(&idx, &want);
        prop_assert_eq!(got.is_some(), !matching.is_empty());
        if let Some(d) = got {
            let p = d.platform.as_ref().unwrap();
            prop_assert!(want.matches(p));
            let exact = |d: &&Descriptor| d.platform.as_ref().unwrap().variant == want.variant;
            if matching.iter().any(exact) {
                prop_assert_eq!(&p.variant, &want.variant);
            }
        }
    }

    #[test]
    fn chain_ids_extend_their_prefixes(ids in prop::collection::vec(digest(), 0..6)) {
        let chain = spec::chain_ids(&ids);
        prop_assert_eq!(chain.len(), ids.len());
        prop_assert_eq!(chain.first(), ids.first());
        for n in 0..ids.len() {
            prop_assert_eq!(&spec::chain_ids(&ids[..n])[..], &chain[..n]);
        }
        for w in 1..chain.len() {
            let expect = Digest::of(format!("{} {}", chain[w - 1], ids[w]).as_bytes());
            prop_assert_eq!(&chain[w], &expect);
        }
    }
}

// ---------------------------------------------------------------------------------------
// References and digests

fn reference_noise() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-zA-Z0-9:/@._\\[\\] -]{0,40}",
        ("[a-z0-9:/._-]{0,30}", digest()).prop_map(|(s, d)| format!("{s}@{d}")),
    ]
}

fn path_component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9]{1,6}((\\.|_|__|-+)[a-z0-9]{1,4}){0,2}",
        1 => Just("library".to_string()),
        1 => Just("a.b".to_string()),
        1 => Just("localhost".to_string()),
    ]
}

/// References built from the grammar (`registry/` optional, then a path, a tag, a digest).
fn reference_text() -> impl Strategy<Value = (bool, String)> {
    (
        prop::option::of(prop::sample::select(vec![
            "docker.io",
            "index.docker.io",
            "localhost",
            "localhost:5000",
            "quay.io",
            "Registry.Example.COM",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[fe80::1]",
            "a-b.c",
            "host:1",
        ])),
        prop::collection::vec(path_component(), 1..4),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"),
        prop::option::of(digest()),
    )
        .prop_map(|(registry, path, tag, digest)| {
            let mut s = path.join("/");
            if let Some(r) = registry {
                s = format!("{r}/{s}");
            }
            if let Some(t) = tag {
                s = format!("{s}:{t}");
            }
            if let Some(d) = digest {
                s = format!("{s}@{d}");
            }
            (registry.is_some(), s)
        })
}

/// Whether the first of several components would be taken for a registry. Docker prints
/// `docker.io/a.b/c` as `a.b/c` too, which reads back as registry `a.b`: an ambiguity of the
/// familiar form that Docker Hub avoids by allowing no `.` in its user names, and that these
/// properties leave out.
fn reads_as_registry(familiar: &str) -> bool {
    familiar
        .split_once('/')
        .is_some_and(|(first, _)| first == "localhost" || first.contains(['.', ':', '[']))
}

fn check_reference(s: &str) -> Result<(), TestCaseError> {
    if let Ok(r) = Reference::parse(s) {
        let full = r.to_string();
        let again = Reference::parse(&full);
        prop_assert_eq!(again.as_ref(), Ok(&r), "to_string {:?}", full);
        let familiar = r.familiar();
        if !reads_as_registry(&familiar) || r.registry != "docker.io" {
            let again = Reference::parse(&familiar);
            prop_assert_eq!(again.as_ref(), Ok(&r), "familiar {:?}", familiar);
        }
        prop_assert!(r.tag.is_some() || r.digest.is_some());
        prop_assert_eq!(r.name(), format!("{}/{}", r.registry, r.path));
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn references_never_panic_and_print_back(s in reference_noise()) {
        check_reference(&s)?;
    }

    #[test]
    fn grammatical_references_parse_and_print_back((explicit, s) in reference_text()) {
        let r = Reference::parse(&s);
        if explicit {
            // With the registry spelled out, the grammar above only makes valid names.
            prop_assert!(r.is_ok(), "{:?}: {:?}", s, r);
        }
        check_reference(&s)?;
    }

    #[test]
    fn digests_never_panic_and_print_back(s in prop_oneof![
        ".{0,80}",
        "sha256:[0-9a-fA-F]{60,68}",
        "[a-z0-9+._-]{0,8}:[0-9a-f]{0,70}",
    ]) {
        if let Ok(d) = s.parse::<Digest>() {
            prop_assert_eq!(d.to_string(), s.clone());
            prop_assert_eq!(d.hex().len(), 64);
            prop_assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        }
    }

    #[test]
    fn digests_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let d = Digest::of(&bytes);
        prop_assert_eq!(d.to_string().parse::<Digest>(), Ok(d.clone()));
        let json = serde_json::to_string(&d).unwrap();
        prop_assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }
}

// ---------------------------------------------------------------------------------------
// Times

/// 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the years RFC 3339 can spell.
const FIRST: i64 = -62_167_219_200;
const LAST: i64 = 253_402_300_799;

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn times_round_trip(secs in FIRST..=LAST, nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000]) {
        let s = timefmt::format(secs, nanos);
        prop_assert_eq!(s.len(), if nanos == 0 { 20 } else { 30 }, "{}", s);
        prop_assert_eq!(timefmt::parse(&s), Some(secs), "{}", s);
    }

    #[test]
    fn times_with_offsets(secs in 0i64..=LAST - 86_400, h in 0i64..24, m in 0i64..60, west: bool) {
        let z = timefmt::format(secs, 0);
        let sign = if west { '-' } else { '+' };
        let local = format!("{}{sign}{h:02}:{m:02}", &z[..19]);
        let off = (h * 3600 + m * 60) * if west { -1 } else { 1 };
        prop_assert_eq!(timefmt::parse(&local), Some(secs - off), "{}", local);
    }

    #[test]
    fn times_never_panic(s in prop_oneof![
        ".{0,32}",
        (FIRST..=LAST, prop_oneof![".{0,8}", "[+-][0-9:é]{1,5}", "[+-].{1,4}"]).prop_map(|(t, tail)| {
            let z = timefmt::format(t, 0);
            format!("{}{tail}", &z[..19])
        }),
        (FIRST..=LAST, 0usize..20, ".{1,3}").prop_map(|(t, at, junk)| {
            let mut z = timefmt::format(t, 1).into_bytes();
            z.splice(at..at + 1, junk.bytes());
            String::from_utf8_lossy(&z).into_owned()
        }),
    ]) {
        let _ = timefmt::parse(&s);
    }
}

// ---------------------------------------------------------------------------------------
// Archives

/// One tar entry as the archive generator makes it.
#[derive(Debug, Clone)]
enum Entry {
    File(String, Vec<u8>),
    Link(String, String),
    Dir(String),
}

/// Raw tar building: the `tar` crate's builder refuses `..` and absolute paths, which is
/// the point here. Long names go in GNU long-name entries.
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (path, kind, link, data): (&str, _, &str, &[u8]) = match e {
            Entry::File(p, d) => (p, EntryType::Regular, "", d),
            Entry::Link(p, t) => (p, EntryType::Symlink, t, &[]),
            Entry::Dir(p) => (p, EntryType::Directory, "", &[]),
        };
        let mut h = Header::new_gnu();
        if path.len() >= 100 {
            let mut l = Header::new_gnu();
            l.set_entry_type(EntryType::GNULongName);
            l.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
            let name = [path.as_bytes(), b"\0"].concat();
            push(&mut out, &mut l, &name);
        }
        let n = path.len().min(99);
        h.as_old_mut().name[..n].copy_from_slice(&path.as_bytes()[..n]);
        let l = link.len().min(99);
        h.as_old_mut().linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
        h.set_entry_type(kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(1);
        push(&mut out, &mut h, data);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn push(out: &mut Vec<u8>, h: &mut Header, data: &[u8]) {
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
}

/// Layer contents: ordinary files, and attempts to get out of the root.
fn layer(sentinel: String) -> impl Strategy<Value = Vec<Entry>> {
    let entry = prop_oneof![
        (
            "[a-z]{1,4}(/[a-z]{1,4})?",
            prop::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(p, d)| Entry::File(p, d)),
        "[a-z]{1,4}".prop_map(Entry::Dir),
        Just(Entry::Link("esc".into(), sentinel)),
        Just(Entry::Link("up".into(), "../../../../../../../..".into())),
        Just(Entry::File("esc/pwned".into(), b"x".to_vec())),
        Just(Entry::File("up/pwned".into(), b"x".to_vec())),
        Just(Entry::File("../../../pwned".into(), b"x".to_vec())),
        Just(Entry::File("a/.wh.b".into(), Vec::new())),
        Just(Entry::File(".wh..wh..opq".into(), Vec::new())),
    ];
    prop::collection::vec(entry, 0..6)
}

/// A well-formed docker-archive and OCI layout of one or two images, with the layers
/// compressed or not, so that the mutations below start from something that loads.
#[derive(Debug, Clone)]
struct Good {
    entries: Vec<Entry>,
    /// No layer has an entry the applier refuses.
    loadable: bool,
}

fn good_archive(sentinel: String) -> impl Strategy<Value = Good> {
    let image = (
        prop::collection::vec((layer(sentinel), 0u8..3), 0..3),
        prop::option::of("[a-z]{1,6}(:[a-z0-9]{1,4})?"),
    );
    (
        prop::collection::vec(image, 1..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(images, docker, oci)| {
            let mut entries = vec![
                Entry::Dir("blobs/".into()),
                Entry::Dir("blobs/sha256/".into()),
            ];
            let mut manifest_json = Vec::new();
            let mut index = Vec::new();
            let mut loadable = true;
            let blob = |entries: &mut Vec<Entry>, bytes: Vec<u8>| {
                let d = Digest::of(&bytes);
                entries.push(Entry::File(
                    format!("blobs/sha256/{}", d.hex()),
                    bytes.clone(),
                ));
                (d, bytes.len() as u64)
            };
            for (layers, tag) in images {
                let mut diff_ids = Vec::new();
                let mut descs = Vec::new();
                let mut paths = Vec::new();
                // The applier refuses `..`, and writing through a symlink to a directory
                // that isn't in the root.
                let all = || layers.iter().flat_map(|(l, _)| l);
                loadable &= !all().any(|e| matches!(e, Entry::File(p, _) if p.contains("..")));
                loadable &= !(all().any(|e| matches!(e, Entry::Link(p, _) if p == "esc"))
                    && all().any(|e| matches!(e, Entry::File(p, _) if p == "esc/pwned")));
                for (l, c) in layers {
                    let raw = tar_of(&l);
                    diff_ids.push(Digest::of(&raw));
                    let c = [Compression::None, Compression::Gzip, Compression::Zstd][c as usize];
                    let mut enc = compression::compress(Vec::new(), c).unwrap();
                    std::io::Write::write_all(&mut enc, &raw).unwrap();
                    let bytes = enc.finish().unwrap();
                    let (d, size) = blob(&mut entries, bytes);
                    paths.push(format!("blobs/sha256/{}", d.hex()));
                    descs.push(json!({"mediaType": c.oci_media_type(), "digest": d, "size": size}));
                }
                let cfg = json!({
                    "architecture": Platform::host().architecture, "os": "linux",
                    "config": {"Cmd": ["sh"]},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids},
                });
                let (cd, csize) = blob(&mut entries, serde_json::to_vec(&cfg).unwrap());
                let m = json!({
                    "schemaVersion": 2, "mediaType": spec::OCI_MANIFEST,
                    "config": {"mediaType": spec::OCI_CONFIG, "digest": cd, "size": csize},
                    "layers": descs,
                });
                let (md, msize) = blob(&mut entries, serde_json::to_vec(&m).unwrap());
                let mut desc =
                    json!({"mediaType": spec::OCI_MANIFEST, "digest": md, "size": msize});
                if let Some(t) = &tag {
                    desc["annotations"] = json!({"io.containerd.image.name": t});
                }
                index.push(desc);
                manifest_json.push(json!({
                    "Config": format!("blobs/sha256/{}", cd.hex()),
                    "RepoTags": tag.iter().collect::<Vec<_>>(),
                    "Layers": paths,
                }));
            }
            if docker || !oci {
                entries.push(Entry::File(
                    "manifest.json".into(),
                    serde_json::to_vec(&manifest_json).unwrap(),
                ));
            }
            if oci {
                let idx =
                    json!({"schemaVersion": 2, "mediaType": spec::OCI_INDEX, "manifests": index});
                entries.push(Entry::File(
                    "index.json".into(),
                    serde_json::to_vec(&idx).unwrap(),
                ));
                entries.push(Entry::File(
                    "oci-layout".into(),
                    br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
                ));
            }
            Good { entries, loadable }
        })
}

fn entry_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "manifest.json",
            "index.json",
            "oci-layout",
            "repositories",
            "a/json",
            "a/VERSION",
            "a/layer.tar",
            "../manifest.json",
            "/manifest.json",
            "/etc/passwd",
            "../../x",
            "./blobs/sha256/",
            "blobs/../../escape",
            "blobs/sha256/../../../x",
        ])
        .prop_map(str::to_string),
        hex64().prop_map(|h| format!("blobs/sha256/{h}")),
        digest().prop_map(|d| format!("blobs/sha256/{}", d.hex())),
        "[a-z./]{1,20}",
    ]
}

fn random_entry() -> impl Strategy<Value = Entry> {
    let contents = prop_oneof![
        any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        document_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        config_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec(any::<u8>(), 0..600),
    ];
    prop_oneof![
        4 => (entry_name(), contents.clone()).prop_map(|(n, c)| Entry::File(n, c)),
        // Blobs under the name an OCI layout gives them, so that they get past the digest check.
        2 => contents.prop_map(|c| Entry::File(format!("blobs/sha256/{}", Digest::of(&c).hex()), c)),
        2 => (entry_name(), prop_oneof![
            entry_name(),
            Just("/".to_string()),
            Just("../../../../..".to_string()),
            Just(".".to_string()),
        ]).prop_map(|(n, t)| Entry::Link(n, t)),
        1 => entry_name().prop_map(Entry::Dir),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    Drop(usize),
    Corrupt(usize, usize, u8),
    Truncate(usize, usize),
    Rename(usize, String),
    Insert(usize, Entry),
    LinkOver(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::None),
        1 => any::<usize>().prop_map(Mutation::Drop),
        1 => (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(i, j, b)| Mutation::Corrupt(i, j, b)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Truncate(i, j)),
        1 => (any::<usize>(), entry_name()).prop_map(|(i, n)| Mutation::Rename(i, n)),
        2 => (any::<usize>(), random_entry()).prop_map(|(i, e)| Mutation::Insert(i, e)),
        1 => (any::<usize>(), entry_name()).prop_map(|(i, t)| Mutation::LinkOver(i, t)),
    ]
}

fn mutate(mut entries: Vec<Entry>, ms: &[Mutation]) -> Vec<Entry> {
    for m in ms {
        let n = entries.len();
        match m.clone() {
            Mutation::None => {}
            Mutation::Insert(i, e) => entries.insert(i % (n + 1), e),
            _ if n == 0 => {}
            Mutation::Drop(i) => {
                entries.remove(i % n);
            }
            Mutation::Corrupt(i, j, b) => {
                if let Entry::File(_, d) = &mut entries[i % n] {
                    if !d.is_empty() {
                        let k = j % d.len();
                        d[k] = b;
                    }
                }
            }
            Mutation::Truncate(i, j) => {
                if let Entry::File(_, d) = &mut entries[i % n] {
                    d.truncate(j % (d.len() + 1));
                }
            }
            Mutation::Rename(i, name) => match &mut entries[i % n] {
                Entry::File(p, _) | Entry::Link(p, _) | Entry::Dir(p) => *p = name,
            },
            Mutation::LinkOver(i, target) => {
                let name = match &entries[i % n] {
                    Entry::File(p, _) | Entry::Link(p, _) | Entry::Dir(p) => p.clone(),
                };
                entries.push(Entry::Link(name, target));
            }
        }
    }
    entries
}

fn entries_of(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Loads `tar` into a fresh store and checks what `load` promises either way (and that the
/// `sentinel` directory, which the archive's layers may aim at, stays empty); gives back
/// `load`'s error, if any.
fn check_load(tar: &[u8], sentinel: Option<&Path>) -> Result<Option<String>, TestCaseError> {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("store");
    let beside = base.path().join("beside");
    std::fs::create_dir(&beside).unwrap();
    let mut store = Store::open(&root).unwrap();
    let res = archive::load(&mut store, tar);
    match &res {
        Ok(loaded) => {
            let images = store.images().unwrap();
            for (id, _) in &loaded.images {
                prop_assert!(
                    images.iter().any(|i| &i.id == id),
                    "{id} loaded but not listed"
                );
            }
            // A registered image keeps everything it needs through a collection.
            store.collect_garbage().unwrap();
            for img in &images {
                let m = store.manifest(img).unwrap();
                store.config(img).unwrap();
                for l in &m.layers {
                    prop_assert!(
                        store.content.contains(&l.digest),
                        "layer {} collected",
                        l.digest
                    );
                }
            }
        }
        Err(_) => {
            prop_assert!(
                store.images().unwrap().is_empty(),
                "a failed load registered images"
            );
            store.collect_garbage().unwrap();
            prop_assert_eq!(store.content.list().unwrap(), Vec::<Digest>::new());
            prop_assert!(
                store.snapshots.list(&store.db).unwrap().is_empty(),
                "snapshots left"
            );
        }
    }
    prop_assert_eq!(
        entries_of(&beside),
        Vec::<String>::new(),
        "written beside the store"
    );
    prop_assert_eq!(
        entries_of(base.path()),
        vec!["beside".to_string(), "store".to_string()]
    );
    if let Some(s) = sentinel {
        prop_assert_eq!(entries_of(s), Vec::<String>::new(), "sentinel written");
    }
    Ok(res.err().map(|e| e.to_string()))
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn load_of_random_tars_is_all_or_nothing(entries in prop::collection::vec(random_entry(), 0..8)) {
        check_load(&tar_of(&entries), None)?;
    }

    #[test]
    fn load_of_random_bytes_fails_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(check_load(&bytes, None)?.is_some());
    }
}

#[test]
fn load_of_damaged_archives_is_all_or_nothing() {
    // A directory outside every case's store that the layers' symlinks point at.
    let dir = tempfile::tempdir().unwrap();
    let sentinel = dir.path().join("sentinel");
    std::fs::create_dir(&sentinel).unwrap();
    let strategy = (
        good_archive(sentinel.to_str().unwrap().to_string()),
        prop::collection::vec(mutation(), 0..3),
    );
    let mut runner = proptest::test_runner::TestRunner::new(cases(96));
    let res = runner.run(&strategy, |(good, ms)| {
        let pristine = good.loadable && ms.iter().all(|m| matches!(m, Mutation::None));
        let err = check_load(&tar_of(&mutate(good.entries, &ms)), Some(&sentinel))?;
        // The unmutated archive loads (with its layers' escapes kept inside the root).
        prop_assert!(
            err.is_none() || !pristine,
            "a well-formed archive failed to load: {:?}",
            err
        );
        Ok(())
    });
    if let Err(e) = res {
        panic!("{e}");
    }
}

/// Cases the properties above found.
#[test]
fn regressions() {
    // A multi-byte character where an offset's digits belong used to panic.
    assert_eq!(timefmt::parse("1970-01-01T00:00:00+\u{10000}a"), None);
    assert_eq!(timefmt::parse("1970-01-01T00:00:00+0\u{e9}00"), None);
    // `library/` is dropped from the familiar form only when nothing nests below it.
    let r = Reference::parse("library/a/b").unwrap();
    assert_eq!(r.familiar(), "library/a/b:latest");
    assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
    assert_eq!(
        Reference::parse("library/a").unwrap().familiar(),
        "a:latest"
    );
}

//! Arbitrary bytes as a manifest or index: `parse_document` must return without panicking,
//! with the media type from the transport or without one, and what it returns must be safe
//! to walk (platform selection, chain IDs) and to write back.
//!
//! The first byte picks the transport's media type (none for most values), the rest is the
//! document.

#![no_main]

use berth_image::spec::{self, Document, Platform};
use libfuzzer_sys::fuzz_target;

const MEDIA_TYPES: &[&str] = &[
    spec::OCI_MANIFEST,
    spec::OCI_INDEX,
    spec::DOCKER_MANIFEST,
    spec::DOCKER_LIST,
    spec::OCI_CONFIG,
    "application/json",
    "text/plain",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, doc)) = data.split_first() else {
        return;
    };
    let transport = MEDIA_TYPES.get(pick as usize).copied();
    for mt in [transport, None] {
        match spec::parse_document(doc, mt) {
            Ok(Document::Index(i)) => {
                assert_eq!(i.schema_version, 2);
                for want in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
                    let want = Platform::parse(want).unwrap();
                    if let Some(d) = spec::select(&i, &want) {
                        assert!(want.matches(d.platform.as_ref().unwrap()));
                    }
                }
                let back = serde_json::to_vec(&i).unwrap();
                match spec::parse_document(&back, None) {
                    Ok(Document::Index(again)) => assert_eq!(again, i),
                    other => panic!("an index written back reads as {other:?}"),
                }
            }
            Ok(Document::Manifest(m)) => {
                assert_eq!(m.schema_version, 2);
                let ids: Vec<_> = m.layers.iter().map(|l| l.digest.clone()).collect();
                assert_eq!(spec::chain_ids(&ids).len(), ids.len());
                // Written back with its own media type (or none), it reads back the same.
                let back = serde_json::to_vec(&m).unwrap();
                if m.media_type
                    .as_deref()
                    .is_none_or(|t| t == spec::OCI_MANIFEST || t == spec::DOCKER_MANIFEST)
                {
                    match spec::parse_document(&back, None) {
                        Ok(Document::Manifest(again)) => assert_eq!(again, m),
                        other => panic!("a manifest written back reads as {other:?}"),
                    }
                }
            }
            Err(_) => {}
        }
    }
    if let Ok(s) = std::str::from_utf8(doc) {
        if let Some(p) = Platform::parse(s) {
            assert_eq!(Platform::parse(&p.to_string()), Some(p));
        }
        if let Ok(d) = s.parse::<berth_image::Digest>() {
            assert_eq!(d.to_string(), s);
        }
    }
});

//! Arbitrary bytes as an image reference: `Reference::parse` must return without panicking,
//! and what parses must print back (in full and in the familiar form) to something that
//! parses the same.

#![no_main]

use berth_image::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(s) else {
        return;
    };
    assert!(r.tag.is_some() || r.digest.is_some());
    let full = r.to_string();
    assert_eq!(
        Reference::parse(&full).as_ref(),
        Ok(&r),
        "full form {full:?}"
    );
    let familiar = r.familiar();
    // Docker's familiar form is ambiguous when a Docker Hub path's first component looks
    // like a registry (`docker.io/a.b/c` prints as `a.b/c`); berth prints it the same way.
    let ambiguous = r.registry == "docker.io"
        && familiar
            .split_once('/')
            .is_some_and(|(first, _)| first == "localhost" || first.contains(['.', ':', '[']));
    if !ambiguous {
        assert_eq!(
            Reference::parse(&familiar).as_ref(),
            Ok(&r),
            "familiar form {familiar:?}"
        );
    }
});

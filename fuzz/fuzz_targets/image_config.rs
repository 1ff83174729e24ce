//! Arbitrary bytes as an image config: `ImageConfig::parse` must return without panicking,
//! and what it returns must survive what `images`, `history` and `inspect` do with it
//! (times, chain IDs, writing it back).

#![no_main]

use berth_image::spec::{self, ImageConfig};
use berth_image::timefmt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = ImageConfig::parse(data) else {
        return;
    };
    let _ = spec::chain_ids(&c.rootfs.diff_ids);
    let _ = c.platform().to_string();
    for t in c
        .created
        .iter()
        .chain(c.history.iter().filter_map(|h| h.created.as_ref()))
    {
        if let Some(secs) = timefmt::parse(t) {
            let _ = timefmt::since(secs, 0);
            let _ = timefmt::since(0, secs);
        }
    }
    let back = serde_json::to_vec(&c).unwrap();
    let again = ImageConfig::parse(&back).expect("a config written back must read back");
    // Floats in unknown fields may lose their last digit (serde_json's default float
    // parsing); everything else reads back the same.
    if !has_float(&serde_json::to_value(&c).unwrap()) {
        assert_eq!(again, c);
    }
});

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_float),
        serde_json::Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

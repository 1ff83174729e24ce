//! What the commands on named objects (volumes, networks) share: Docker's way of reporting
//! a daemon error, its `key=value` options, and `rm` of several names.

use std::collections::BTreeMap;
use std::io::Write;

use berth_engine::{Engine, EngineError, Kind};

use crate::Globals;

/// A daemon error as the docker CLI reports it, status 1.
pub fn daemon(e: EngineError) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("Error response from daemon: {e}");
    std::process::exit(1);
}

pub fn or_exit<T>(r: berth_engine::Result<T>) -> T {
    r.unwrap_or_else(|e| daemon(e))
}

pub fn open(g: &Globals) -> Engine {
    or_exit(Engine::open(&g.root))
}

/// `key=value` pairs of `--label` and `-o`; a bare key has an empty value, as docker's
/// map options do.
pub fn pairs(values: Vec<String>) -> BTreeMap<String, String> {
    values
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

/// `rm NAME...`: each name printed once removed, each failure reported and the rest still
/// tried, status 1 if any failed; with `force`, a missing one is no failure.
pub fn remove_each(
    names: &[String],
    force: bool,
    mut remove: impl FnMut(&str) -> berth_engine::Result<()>,
) {
    let mut failed = false;
    for name in names {
        match remove(name) {
            Ok(()) => println!("{name}"),
            Err(e) if force && e.kind() == Kind::NotFound => {}
            Err(e) => {
                let _ = std::io::stdout().flush();
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
}

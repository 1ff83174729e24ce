//! `berth volume`: create, ls, inspect, rm, prune.

use std::io::Write;

use berth_engine::volume::Volume;
use berth_engine::{Engine, EngineError};
use serde_json::{json, Value};

use crate::args::{self, flag, opt, Flag, Matches};
use crate::format;
use crate::objects::{self, daemon, open, or_exit, pairs};
use crate::{Failure, Globals, Result};

fn parse(cmd: &str, flags: &[Flag], argv: &[String]) -> Result<Matches> {
    args::parse(flags, argv, true).map_err(|e| Failure::usage(cmd, e))
}

pub fn dispatch(g: &Globals, argv: &[String]) -> Result<()> {
    let Some((sub, tail)) = argv.split_first() else {
        return Err(Failure::usage(
            "volume",
            "\"berth volume\" requires a subcommand: create, ls, inspect, rm or prune",
        ));
    };
    match sub.as_str() {
        "create" => create(g, tail),
        "ls" | "list" => ls(g, tail),
        "inspect" => inspect(g, tail),
        "rm" | "remove" => rm(g, tail),
        "prune" => prune(g, tail),
        other => Err(Failure::usage(
            "volume",
            format!("unknown command \"{other}\" for \"berth volume\""),
        )),
    }
}

fn create(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "volume create";
    let m = parse(
        cmd,
        &[
            opt("driver", Some('d')),
            opt("name", None),
            opt("opt", Some('o')),
            opt("label", None),
        ],
        argv,
    )?;
    if m.args.len() > 1 {
        return Err(Failure::usage(
            cmd,
            "\"berth volume create\" requires at most 1 argument.",
        ));
    }
    let name =
        match (m.get("name"), m.args.first()) {
            (Some(a), Some(b)) if a != b => return Err(Failure::new(
                1,
                "conflicting options: either specify --name or provide positional arg, not both",
            )),
            (Some(a), _) => Some(a.to_string()),
            (None, b) => b.cloned(),
        };
    let mut engine = open(g);
    let v = or_exit(engine.create_volume(
        name.as_deref(),
        m.get("driver").unwrap_or("local"),
        pairs(m.all("label")),
        pairs(m.all("opt")),
    ));
    println!("{}", v.name);
    Ok(())
}

fn row(engine: &Engine, v: &Volume) -> Value {
    json!({
        "Driver": v.driver,
        "Name": v.name,
        "Scope": "local",
        "Mountpoint": engine.volume_data(&v.name),
        "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Links": "N/A",
        "Size": "N/A",
        "CreatedAt": v.created,
    })
}

fn ls(g: &Globals, argv: &[String]) -> Result<()> {
    let m = parse(
        "volume ls",
        &[
            flag("quiet", Some('q')),
            opt("filter", Some('f')),
            opt("format", None),
        ],
        argv,
    )?;
    let engine = open(g);
    let mut list = or_exit(engine.volumes());
    let filters = m.all("filter");
    if !filters.is_empty() {
        let used = or_exit(engine.volume_users());
        for f in &filters {
            let (k, val) = f.split_once('=').unwrap_or((f.as_str(), ""));
            let bad =
                || -> EngineError { berth_engine::volume::VolumeError::Filter(f.clone()).into() };
            match k {
                "dangling" => {
                    let want = match val {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => daemon(bad()),
                    };
                    list.retain(|v| used.contains_key(&v.name) != want);
                }
                "name" => list.retain(|v| v.name.contains(val)),
                "driver" => list.retain(|v| v.driver == val),
                "label" => list.retain(|v| match val.split_once('=') {
                    Some((lk, lv)) => v.labels.get(lk).is_some_and(|x| x == lv),
                    None => v.labels.contains_key(val),
                }),
                _ => daemon(bad()),
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if m.on("quiet") {
        for v in &list {
            let _ = writeln!(out, "{}", v.name);
        }
        return Ok(());
    }
    let rows: Vec<Value> = list.iter().map(|v| row(&engine, v)).collect();
    let text = format::output(
        m.get("format"),
        &rows,
        &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")],
    )
    .map_err(|e| Failure::new(1, e))?;
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

fn inspect(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "volume inspect";
    let m = parse(cmd, &[opt("format", Some('f'))], argv)?;
    if m.args.is_empty() {
        return Err(Failure::usage(
            cmd,
            "\"berth volume inspect\" requires at least 1 argument.",
        ));
    }
    let engine = open(g);
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &m.args {
        match engine.volume(name) {
            Ok(v) => values.push(engine.volume_json(&v)),
            Err(e) if e.kind() == berth_engine::Kind::NotFound => missing.push(name),
            Err(e) => daemon(e),
        }
    }
    format::print_inspect(m.get("format"), &values)?;
    if let Some(name) = missing.first() {
        return Err(Failure::new(1, format!("No such volume: {name}")));
    }
    Ok(())
}

fn rm(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "volume rm";
    let m = parse(cmd, &[flag("force", Some('f'))], argv)?;
    if m.args.is_empty() {
        return Err(Failure::usage(
            cmd,
            "\"berth volume rm\" requires at least 1 argument.",
        ));
    }
    let mut engine = open(g);
    objects::remove_each(&m.args, m.on("force"), |name| engine.remove_volume(name));
    Ok(())
}

fn prune(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "volume prune";
    let m = parse(
        cmd,
        &[
            flag("all", Some('a')),
            flag("force", Some('f')),
            opt("filter", None),
        ],
        argv,
    )?;
    let mut all = m.on("all");
    let mut labels = Vec::new();
    for f in m.all("filter") {
        match f.split_once('=') {
            Some(("label", l)) => labels.push(l.to_string()),
            // The API's way to say -a.
            Some(("all", v)) => all = matches!(v, "true" | "1"),
            _ => daemon(berth_engine::volume::VolumeError::Filter(f.clone()).into()),
        }
    }
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !m.on("force") && !crate::images::confirm(warning) {
        return Ok(());
    }
    let mut engine = open(g);
    let removed = or_exit(engine.prune_volumes(all, &labels));
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        let _ = writeln!(out, "Deleted Volumes:");
        for (name, _) in &removed {
            let _ = writeln!(out, "{name}");
        }
        let _ = writeln!(out);
    }
    let total: u64 = removed.iter().map(|(_, s)| s).sum();
    let _ = writeln!(
        out,
        "Total reclaimed space: {}",
        format::human_size(total as f64)
    );
    Ok(())
}

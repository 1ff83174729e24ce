//! `berth info`, `berth version`, `berth system df` and `berth system prune`: Docker's
//! output for each, from the engine's `/info`- and `/version`-shaped values.

use std::io::Write;

use berth_engine::{Engine, Status};
use serde_json::{json, Value};

use crate::args::{self, flag, opt};
use crate::format::{self, bytes_size, human_size};
use crate::{Failure, Globals, Result};

fn open(g: &Globals) -> Result<Engine> {
    Engine::open(&g.root).map_err(|e| Failure::new(1, e.to_string()))
}

fn engine_err(e: berth_engine::EngineError) -> Failure {
    Failure::new(1, e.to_string())
}

/// A `--format` template applied to one value; `{{json .}}` and friends.
fn print_format(f: &str, v: &Value) -> Result<()> {
    let t = format::Template::parse(f).map_err(|e| Failure::new(1, format!("template: {e}")))?;
    let s = t
        .render(v)
        .map_err(|e| Failure::new(1, format!("template: {e}")))?;
    let _ = writeln!(std::io::stdout().lock(), "{s}");
    Ok(())
}

const RUST_VERSION: &str = env!("BERTH_RUSTC_VERSION");
const GIT_COMMIT: &str = env!("BERTH_GIT_COMMIT");
const BUILT: &str = env!("BERTH_BUILT");

fn client_info() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": berth_engine::info::API_VERSION,
        "DefaultAPIVersion": berth_engine::info::API_VERSION,
        "GoVersion": RUST_VERSION,
        "GitCommit": GIT_COMMIT,
        "BuildTime": BUILT,
        "Os": "linux",
        "Arch": berth_engine::info::go_arch(std::env::consts::ARCH),
        "Context": "default",
        "Platform": {"Name": "berth"},
    })
}

/// `berth version`: Docker's Client and Server sections. berth has no daemon: the engine
/// is the library in this binary, so the Server section describes it (as podman's does).
pub fn version(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[opt("format", Some('f'))], argv, true)
        .map_err(|e| Failure::usage("version", e))?;
    let engine = open(g)?;
    let mut server = engine.version();
    server["GitCommit"] = json!(GIT_COMMIT);
    server["GoVersion"] = json!(RUST_VERSION);
    server["BuildTime"] = json!(BUILT);
    if let Some(c) = server["Components"].get_mut(0) {
        c["Details"]["GitCommit"] = json!(GIT_COMMIT);
        c["Details"]["GoVersion"] = json!(RUST_VERSION);
        c["Details"]["BuildTime"] = json!(BUILT);
    }
    let v = json!({"Client": client_info(), "Server": server});
    if let Some(f) = m.get("format") {
        return print_format(f, &v);
    }
    let c = &v["Client"];
    let s = &v["Server"];
    let st = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    out.push_str("Client:\n");
    for (k, val) in [
        ("Version", st(&c["Version"])),
        ("API version", st(&c["ApiVersion"])),
        ("Rust version", st(&c["GoVersion"])),
        ("Git commit", st(&c["GitCommit"])),
        ("Built", st(&c["BuildTime"])),
        ("OS/Arch", format!("{}/{}", st(&c["Os"]), st(&c["Arch"]))),
        ("Context", st(&c["Context"])),
    ] {
        out.push_str(&format!(" {:<19}{val}\n", format!("{k}:")));
    }
    out.push_str(&format!(
        "\nServer: {}\n Engine:\n",
        st(&s["Platform"]["Name"])
    ));
    for (k, val) in [
        ("Version", st(&s["Version"])),
        (
            "API version",
            format!(
                "{} (minimum version {})",
                st(&s["ApiVersion"]),
                st(&s["MinAPIVersion"])
            ),
        ),
        ("Rust version", st(&s["GoVersion"])),
        ("Git commit", st(&s["GitCommit"])),
        ("Built", st(&s["BuildTime"])),
        ("OS/Arch", format!("{}/{}", st(&s["Os"]), st(&s["Arch"]))),
        ("Experimental", "false".into()),
    ] {
        out.push_str(&format!("  {:<18}{val}\n", format!("{k}:")));
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

/// `berth info`.
pub fn info(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(&[opt("format", Some('f'))], argv, true)
        .map_err(|e| Failure::usage("info", e))?;
    let mut engine = open(g)?;
    let mut v = engine.info().map_err(engine_err)?;
    v["ClientInfo"] = client_info();
    v["ClientInfo"]["Debug"] = json!(false);
    if let Some(f) = m.get("format") {
        return print_format(f, &v);
    }
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut o = String::new();
    let mut line = |t: String| {
        o.push_str(&t);
        o.push('\n');
    };
    line("Client:".into());
    line(format!(" Version:    {}", env!("CARGO_PKG_VERSION")));
    line(" Context:    default".into());
    line(" Debug Mode: false".into());
    line(String::new());
    line("Server:".into());
    line(format!(" Containers: {}", s("Containers")));
    line(format!("  Running: {}", s("ContainersRunning")));
    line(format!("  Paused: {}", s("ContainersPaused")));
    line(format!("  Stopped: {}", s("ContainersStopped")));
    line(format!(" Images: {}", s("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    line(" Plugins:".into());
    line("  Volume: local".into());
    line("  Network: host null".into());
    line("  Log: json-file".into());
    line(" Swarm: inactive".into());
    let runtimes: Vec<String> = v["Runtimes"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    line(format!(" Runtimes: {}", runtimes.join(" ")));
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    line(" Security Options:".into());
    for opt in v["SecurityOptions"].as_array().into_iter().flatten() {
        // "name=seccomp,profile=builtin" is shown as docker shows it.
        let mut name = String::new();
        let mut rest = Vec::new();
        for kv in opt.as_str().unwrap_or_default().split(',') {
            match kv.split_once('=') {
                Some(("name", n)) => name = n.to_string(),
                Some((k, val)) => {
                    let mut k = k.to_string();
                    if let Some(f) = k.get_mut(..1) {
                        f.make_ascii_uppercase();
                    }
                    rest.push(format!("{k}: {val}"));
                }
                None => {}
            }
        }
        line(format!("  {name}"));
        for r in rest {
            line(format!("   {r}"));
        }
    }
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", s("NCPU")));
    line(format!(
        " Total Memory: {}",
        bytes_size(v["MemTotal"].as_f64().unwrap_or(0.0))
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" ID: {}", s("ID")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    line(" Debug Mode: false".into());
    line(" Experimental: false".into());
    line(" Insecure Registries:".into());
    line("  127.0.0.0/8".into());
    line(format!(
        " Live Restore Enabled: {}",
        s("LiveRestoreEnabled")
    ));
    let _ = std::io::stdout().lock().write_all(o.as_bytes());
    Ok(())
}

fn active(s: Status) -> bool {
    matches!(s, Status::Running | Status::Paused | Status::Restarting)
}

/// `SIZE (PCT%)`, as Docker shows what is reclaimable.
fn reclaimable(r: u64, total: u64) -> String {
    match (r * 100).checked_div(total) {
        None => human_size(r as f64),
        Some(p) => format!("{} ({p}%)", human_size(r as f64)),
    }
}

pub fn system_df(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[flag("verbose", Some('v')), opt("format", None)],
        argv,
        true,
    )
    .map_err(|e| Failure::usage("system df", e))?;
    let mut engine = open(g)?;
    let u = engine
        .store
        .usage()
        .map_err(|e| Failure::new(1, e.to_string()))?;
    let containers = engine.containers().map_err(engine_err)?;
    let sized: Vec<(berth_engine::Container, u64)> = containers
        .into_iter()
        .map(|c| {
            let size = engine.container_size(&c.id).unwrap_or(0);
            (c, size)
        })
        .collect();
    let c_total: u64 = sized.iter().map(|(_, s)| s).sum();
    let c_active = sized.iter().filter(|(c, _)| active(c.state.status)).count();
    let c_reclaim: u64 = sized
        .iter()
        .filter(|(c, _)| !active(c.state.status))
        .map(|(_, s)| s)
        .sum();
    let vols = volume_usage(&engine)?;
    if m.on("verbose") {
        return df_verbose(&engine, &sized, &vols);
    }
    let v_total: u64 = vols.iter().map(|(_, _, s)| s).sum();
    let v_active = vols.iter().filter(|(_, links, _)| *links > 0).count();
    let v_reclaim: u64 = vols
        .iter()
        .filter(|(_, links, _)| *links == 0)
        .map(|(_, _, s)| s)
        .sum();
    let rows = vec![
        json!({"Type": "Images", "TotalCount": u.images.to_string(), "Active": u.active.to_string(), "Size": human_size(u.size as f64), "Reclaimable": reclaimable(u.reclaimable, u.size)}),
        json!({"Type": "Containers", "TotalCount": sized.len().to_string(), "Active": c_active.to_string(), "Size": human_size(c_total as f64), "Reclaimable": reclaimable(c_reclaim, c_total)}),
        json!({"Type": "Local Volumes", "TotalCount": vols.len().to_string(), "Active": v_active.to_string(), "Size": human_size(v_total as f64), "Reclaimable": reclaimable(v_reclaim, v_total)}),
        json!({"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
    ];
    let s = format::output(
        m.get("format"),
        &rows,
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
    )
    .map_err(|e| Failure::new(1, e))?;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
    Ok(())
}

/// Each volume's name, the number of containers using it and its size.
fn volume_usage(engine: &Engine) -> Result<Vec<(String, usize, u64)>> {
    let users = engine.volume_users().map_err(engine_err)?;
    Ok(engine
        .volumes()
        .map_err(engine_err)?
        .into_iter()
        .map(|v| {
            let links = users.get(&v.name).map_or(0, Vec::len);
            let size = berth_engine::volume::disk_usage(&engine.volume_data(&v.name));
            (v.name, links, size)
        })
        .collect())
}

/// `system df -v`: one table per kind.
fn df_verbose(
    engine: &Engine,
    sized: &[(berth_engine::Container, u64)],
    vols: &[(String, usize, u64)],
) -> Result<()> {
    let mut out = String::from("Images space usage:\n\n");
    let mut rows = vec![vec![
        "REPOSITORY".to_string(),
        "TAG".into(),
        "IMAGE ID".into(),
        "CREATED".into(),
        "SIZE".into(),
        "SHARED SIZE".into(),
        "UNIQUE SIZE".into(),
        "CONTAINERS".into(),
    ]];
    for img in engine
        .store
        .images()
        .map_err(|e| Failure::new(1, e.to_string()))?
    {
        let users = engine.store.users(&img.id).map(|u| u.len()).unwrap_or(0);
        for r in crate::images::image_rows(&engine.store, &img, false)? {
            let f = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            rows.push(vec![
                f("Repository"),
                f("Tag"),
                f("ID"),
                f("CreatedSince"),
                f("Size"),
                "0B".into(),
                f("Size"),
                users.to_string(),
            ]);
        }
    }
    out.push_str(&format::table(&rows));
    out.push_str("\nContainers space usage:\n\n");
    let mut rows = vec![vec![
        "CONTAINER ID".to_string(),
        "IMAGE".into(),
        "COMMAND".into(),
        "LOCAL VOLUMES".into(),
        "SIZE".into(),
        "CREATED".into(),
        "STATUS".into(),
        "NAMES".into(),
    ]];
    for (c, size) in sized {
        let r = crate::containers::ps_row(c, false);
        let f = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        rows.push(vec![
            f("ID"),
            f("Image"),
            f("Command"),
            c.host_config.volumes.len().to_string(),
            human_size(*size as f64),
            f("RunningFor"),
            f("Status"),
            f("Names"),
        ]);
    }
    out.push_str(&format::table(&rows));
    out.push_str("\nLocal Volumes space usage:\n\n");
    let mut rows = vec![vec![
        "VOLUME NAME".to_string(),
        "LINKS".into(),
        "SIZE".into(),
    ]];
    for (name, links, size) in vols {
        rows.push(vec![
            name.clone(),
            links.to_string(),
            human_size(*size as f64),
        ]);
    }
    out.push_str(&format::table(&rows));
    out.push_str("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n");
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

pub fn system_prune(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("all", Some('a')),
            flag("force", Some('f')),
            flag("volumes", None),
            opt("filter", None),
        ],
        argv,
        true,
    )
    .map_err(|e| Failure::usage("system prune", e))?;
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if m.on("volumes") {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    if m.on("all") {
        warning.push_str(
            "  - all images without at least one container associated to them\n  - all build cache",
        );
    } else {
        warning.push_str("  - all dangling images\n  - unused build cache");
    }
    if !m.on("force") && !crate::images::confirm(&warning) {
        return Ok(());
    }
    let mut engine = open(g)?;
    // Docker's order: containers first, so that the images they held become prunable.
    let sizes: Vec<(String, u64)> = engine
        .containers()
        .map_err(engine_err)?
        .into_iter()
        .filter(|c| !active(c.state.status))
        .map(|c| {
            let s = engine.container_size(&c.id).unwrap_or(0);
            (c.id, s)
        })
        .collect();
    let removed = engine.prune().map_err(engine_err)?;
    let mut reclaimed: u64 = sizes
        .iter()
        .filter(|(id, _)| removed.contains(id))
        .map(|(_, s)| s)
        .sum();
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for id in &removed {
            let _ = writeln!(out, "{id}");
        }
        let _ = writeln!(out);
    }
    // Then networks no running container is on, as Docker's does. A host without nft
    // can't remove a bridge's rules: that is no reason to stop the rest.
    let net_filters: Vec<String> = m
        .all("filter")
        .into_iter()
        .filter(|f| f.starts_with("until=") || f.starts_with("label"))
        .collect();
    if let Ok(nets) = engine.network_prune(&net_filters) {
        if !nets.is_empty() {
            let _ = writeln!(out, "Deleted Networks:");
            for n in &nets {
                let _ = writeln!(out, "{n}");
            }
            let _ = writeln!(out);
        }
    }
    if m.on("volumes") {
        // Docker (API 1.42 on) prunes only anonymous volumes here, even with `-a` (which is
        // about images); named ones need `volume prune -a`.
        let labels: Vec<String> = m
            .all("filter")
            .iter()
            .filter_map(|f| f.strip_prefix("label=").map(String::from))
            .collect();
        let vols = engine.prune_volumes(false, &labels).map_err(engine_err)?;
        if !vols.is_empty() {
            let _ = writeln!(out, "Deleted Volumes:");
            for (name, _) in &vols {
                let _ = writeln!(out, "{name}");
            }
            let _ = writeln!(out);
        }
        reclaimed += vols.iter().map(|(_, s)| s).sum::<u64>();
    }
    let (images, collected) = engine
        .store
        .prune(m.on("all"))
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if !images.untagged.is_empty() || !images.deleted.is_empty() {
        let _ = writeln!(out, "Deleted Images:");
        for u in &images.untagged {
            let _ = writeln!(out, "untagged: {u}");
        }
        for d in &images.deleted {
            let _ = writeln!(out, "deleted: {d}");
        }
        let _ = writeln!(out);
    }
    reclaimed += collected.bytes;
    let _ = writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(reclaimed as f64)
    );
    Ok(())
}

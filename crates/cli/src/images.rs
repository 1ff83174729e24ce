//! Image commands: images, load, save, import, tag, rmi, history, inspect, image prune
//! (`system df` and `system prune` are in system.rs).

use std::io::{IsTerminal, Read, Write};

use berth_image::archive::{self, SaveItem};
use berth_image::import::{self, ImportOptions};
use berth_image::spec::{ImageConfig, Platform, RunConfig};
use berth_image::{timefmt, Image, Reference, Store};
use serde_json::{json, Value};

use crate::args::{self, flag, opt, Flag, Matches};
use crate::format::{self, human_size};
use crate::{Failure, Globals, Result};

fn open(g: &Globals) -> Result<Store> {
    Ok(Store::open(&g.root)?)
}

fn parse(cmd: &str, flags: &[Flag], argv: &[String]) -> Result<Matches> {
    args::parse(flags, argv, true).map_err(|e| Failure::usage(cmd, e))
}

fn need_args(cmd: &str, m: &Matches, min: usize, max: Option<usize>, what: &str) -> Result<()> {
    let n = m.args.len();
    if n < min || max.is_some_and(|x| n > x) {
        return Err(Failure::usage(
            cmd,
            format!("\"berth {cmd}\" requires {what}."),
        ));
    }
    Ok(())
}

pub fn dispatch(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    match cmd {
        "images" | "image ls" | "image list" => list(g, cmd, argv),
        "load" | "image load" => load(g, cmd, argv),
        "save" | "image save" => save(g, cmd, argv),
        "import" | "image import" => import_cmd(g, cmd, argv),
        "tag" | "image tag" => tag(g, cmd, argv),
        "rmi" | "image rm" | "image remove" => rmi(g, cmd, argv),
        "history" | "image history" => history(g, cmd, argv),
        "inspect" | "image inspect" => crate::containers::inspect_as(g, cmd, argv, Some("image")),
        "image prune" => prune(g, cmd, argv),
        other => Err(Failure::usage(
            "image",
            format!(
                "unknown command \"{}\" for \"berth image\"",
                other.trim_start_matches("image ")
            ),
        )),
    }
}

fn short(id: &berth_image::Digest) -> String {
    id.hex()[..12].to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The rows `images` prints for one image: one per tag, or one `<none>` row.
pub(crate) fn image_rows(store: &Store, img: &Image, digests: bool) -> Result<Vec<Value>> {
    let cfg = store.config(img).unwrap_or_default();
    let created = cfg.created.as_deref().and_then(timefmt::parse);
    let base = json!({
        "ID": short(&img.id),
        "FullID": img.id.to_string(),
        "CreatedSince": created.map_or("N/A".to_string(), |c| timefmt::since(c, now())),
        "CreatedAt": created.map_or(String::new(), |c| timefmt::format(c, 0).replace('T', " ").replace('Z', " +0000 UTC")),
        "Size": human_size(img.size as f64),
        "VirtualSize": human_size(img.size as f64),
        "Containers": "N/A",
        "SharedSize": "N/A",
        "UniqueSize": "N/A",
    });
    let digest_of = |repo: &str| {
        img.digests
            .iter()
            .filter_map(|d| Reference::parse(d).ok())
            .find(|r| r.familiar().split('@').next() == Some(repo))
            .and_then(|r| r.digest.map(|d| d.to_string()))
            .unwrap_or_else(|| "<none>".into())
    };
    let mut rows = Vec::new();
    for t in &img.tags {
        let r = Reference::parse(t)?;
        let fam = r.familiar();
        let repo = fam
            .rsplit_once(':')
            .map_or(fam.as_str(), |(a, _)| a)
            .to_string();
        let mut v = base.clone();
        v["Repository"] = json!(repo);
        v["Tag"] = json!(r.tag.clone().unwrap_or_else(|| "<none>".into()));
        v["Digest"] = json!(digest_of(&repo));
        rows.push(v);
    }
    if rows.is_empty() {
        let mut v = base.clone();
        v["Repository"] = json!("<none>");
        v["Tag"] = json!("<none>");
        v["Digest"] = json!("<none>");
        if digests {
            if let Some(d) = img.digests.first().and_then(|d| Reference::parse(d).ok()) {
                v["Repository"] = json!(d.familiar().split('@').next().unwrap_or("<none>"));
                v["Digest"] = json!(d.digest.map(|d| d.to_string()).unwrap_or_default());
            }
        }
        rows.push(v);
    }
    Ok(rows)
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
];

fn list(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            flag("all", Some('a')),
            flag("quiet", Some('q')),
            flag("digests", None),
            flag("no-trunc", None),
            opt("format", None),
            opt("filter", Some('f')),
        ],
        argv,
    )?;
    need_args(cmd, &m, 0, Some(1), "at most 1 argument")?;
    let store = open(g)?;
    let filter_ref = m.args.first().cloned();
    let dangling = m
        .all("filter")
        .iter()
        .find_map(|f| f.strip_prefix("dangling=").map(|v| v == "true"));
    let mut rows = Vec::new();
    for img in store.images()? {
        if let Some(d) = dangling {
            if d != img.tags.is_empty() {
                continue;
            }
        }
        for mut r in image_rows(&store, &img, m.on("digests"))? {
            if let Some(want) = &filter_ref {
                let repo = r["Repository"].as_str().unwrap_or("");
                let tag = r["Tag"].as_str().unwrap_or("");
                let (wr, wt) = match want.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                    Some((a, b)) => (a, Some(b)),
                    None => (want.as_str(), None),
                };
                if repo != wr || wt.is_some_and(|t| t != tag) {
                    continue;
                }
            }
            if m.on("no-trunc") {
                r["ID"] = r["FullID"].clone();
            }
            rows.push(r);
        }
    }
    let mut out = std::io::stdout().lock();
    if m.on("quiet") {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or_default().to_string();
            if seen.insert(id.clone()) {
                let _ = writeln!(out, "{id}");
            }
        }
        return Ok(());
    }
    if let Some(f) = m.get("format") {
        let f = if f == "table" {
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        } else {
            f
        };
        let s = format::render_all(f, &rows, IMAGE_HEADERS).map_err(|e| Failure::new(1, e))?;
        let _ = out.write_all(s.as_bytes());
        return Ok(());
    }
    let mut table = vec![if m.on("digests") {
        vec!["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    } else {
        vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    }
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>()];
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let mut row = vec![s("Repository"), s("Tag")];
        if m.on("digests") {
            row.push(s("Digest"));
        }
        row.extend([s("ID"), s("CreatedSince"), s("Size")]);
        table.push(row);
    }
    let _ = out.write_all(format::table(&table).as_bytes());
    Ok(())
}

fn load(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            opt("input", Some('i')),
            flag("quiet", Some('q')),
            opt("platform", None),
        ],
        argv,
    )?;
    need_args(cmd, &m, 0, Some(0), "no arguments")?;
    let mut store = open(g)?;
    let loaded = match m.get("input") {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| Failure::new(1, format!("open {path}: {e}")))?;
            archive::load(&mut store, std::io::BufReader::with_capacity(256 << 10, f))?
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    1,
                    "requested load from stdin, but stdin is empty",
                ));
            }
            archive::load(&mut store, std::io::stdin().lock())?
        }
    };
    let mut out = std::io::stdout().lock();
    for (id, tags) in loaded.images {
        if tags.is_empty() {
            let _ = writeln!(out, "Loaded image ID: {id}");
        }
        for t in tags {
            let _ = writeln!(out, "Loaded image: {t}");
        }
    }
    Ok(())
}

fn save(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[opt("output", Some('o')), opt("platform", None)],
        argv,
    )?;
    need_args(cmd, &m, 1, None, "at least 1 argument")?;
    let store = open(g)?;
    let mut items = Vec::new();
    for name in &m.args {
        let image = store.resolve(name)?;
        // Named by a tag it has: saved under it; by ID: saved without names, as docker does.
        let tag = Reference::parse(name)
            .ok()
            .filter(|r| r.digest.is_none() && image.tags.contains(&r.to_string()));
        items.push(SaveItem { image, tag });
    }
    match m.get("output") {
        Some(path) => {
            // Written beside the target and renamed, so a failure never leaves half a file.
            let target = std::path::Path::new(path);
            let dir = target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = dir.join(format!(
                ".{}.berth-save-{}",
                target.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                std::process::id()
            ));
            let f = std::fs::File::create(&tmp).map_err(|e| {
                Failure::new(
                    1,
                    format!("failed to save image: open {}: {e}", tmp.display()),
                )
            })?;
            let res = archive::save(
                &store,
                &items,
                std::io::BufWriter::with_capacity(256 << 10, f),
            );
            if let Err(e) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, target).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Failure::new(1, format!("failed to save image: {path}: {e}"))
            })?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(Failure::new(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            archive::save(
                &store,
                &items,
                std::io::BufWriter::with_capacity(256 << 10, std::io::stdout().lock()),
            )?;
        }
    }
    Ok(())
}

/// `--change` instructions docker's import accepts.
pub fn apply_change(cfg: &mut RunConfig, change: &str) -> Result<()> {
    let (instr, rest) = change
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((change.trim(), ""));
    let rest = rest.trim();
    let list = |s: &str| -> Vec<String> {
        serde_json::from_str::<Vec<String>>(s)
            .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), s.to_string()])
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => cfg.cmd = Some(list(rest)),
        "ENTRYPOINT" => cfg.entrypoint = Some(list(rest)),
        "ENV" => {
            let kv = match rest.split_once('=') {
                Some((k, v)) => format!("{k}={}", v.trim_matches('"')),
                None => rest.replacen(' ', "=", 1),
            };
            cfg.env.get_or_insert_with(Vec::new).push(kv);
        }
        "WORKDIR" => cfg.working_dir = rest.to_string(),
        "USER" => cfg.user = rest.to_string(),
        "STOPSIGNAL" => cfg.stop_signal = rest.to_string(),
        "EXPOSE" => {
            for p in rest.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                };
                cfg.exposed_ports
                    .get_or_insert_with(Default::default)
                    .insert(p, json!({}));
            }
        }
        "VOLUME" => {
            for v in list(rest)
                .into_iter()
                .filter(|v| v != "/bin/sh" && v != "-c")
            {
                cfg.volumes
                    .get_or_insert_with(Default::default)
                    .insert(v, json!({}));
            }
        }
        "LABEL" => {
            if let Some((k, v)) = rest.split_once('=') {
                cfg.labels
                    .get_or_insert_with(Default::default)
                    .insert(k.trim_matches('"').into(), v.trim_matches('"').into());
            }
        }
        "HEALTHCHECK" => cfg.set_health_config(Some(&healthcheck_change(rest)?)),
        other => {
            return Err(Failure::new(
                1,
                format!("{other} is not a valid change command"),
            ))
        }
    }
    Ok(())
}

/// A Dockerfile `HEALTHCHECK` after the keyword: `NONE`, or `[--interval=D] [--timeout=D]
/// [--start-period=D] [--start-interval=D] [--retries=N] CMD command` (shell or JSON form).
fn healthcheck_change(rest: &str) -> Result<berth_image::spec::HealthConfig> {
    let mut h = berth_image::spec::HealthConfig::default();
    let mut rest = rest.trim();
    while let Some(f) = rest.strip_prefix("--") {
        let (flag, after) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
        rest = after.trim_start();
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        let duration = || {
            berth_engine::health::parse_go_duration(value)
                .map_err(|e| Failure::new(1, format!("HEALTHCHECK --{name}: {e}")))
        };
        match name {
            "interval" => h.interval = duration()?,
            "timeout" => h.timeout = duration()?,
            "start-period" => h.start_period = duration()?,
            "start-interval" => h.start_interval = duration()?,
            "retries" => {
                h.retries = value.parse().map_err(|_| {
                    Failure::new(
                        1,
                        format!("HEALTHCHECK --retries: invalid number {value:?}"),
                    )
                })?
            }
            other => return Err(Failure::new(1, format!("Unknown flag: {other}"))),
        }
    }
    let (kind, cmd) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(k, c)| (k, c.trim()));
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if cmd.is_empty() => h.test = vec!["NONE".into()],
        "NONE" => {
            return Err(Failure::new(1, "HEALTHCHECK NONE takes no arguments"));
        }
        "CMD" if cmd.is_empty() => {
            return Err(Failure::new(1, "Missing command after HEALTHCHECK CMD"));
        }
        "CMD" => {
            h.test = match serde_json::from_str::<Vec<String>>(cmd) {
                Ok(args) => std::iter::once("CMD".to_string()).chain(args).collect(),
                Err(_) => vec!["CMD-SHELL".into(), cmd.to_string()],
            }
        }
        other => {
            return Err(Failure::new(
                1,
                format!("Unknown type {other:?} in HEALTHCHECK (try CMD)"),
            ))
        }
    }
    berth_engine::health::validate(Some(&h)).map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(h)
}

fn import_cmd(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            opt("change", Some('c')),
            opt("message", Some('m')),
            opt("platform", None),
        ],
        argv,
    )?;
    need_args(cmd, &m, 1, Some(2), "at least 1 and at most 2 arguments")?;
    let reference = m.args.get(1).map(|r| Reference::parse(r)).transpose()?;
    let platform = match m.get("platform") {
        Some(p) => Platform::parse(p).ok_or_else(|| {
            Failure::new(1, format!("invalid platform {p:?}: want os/arch[/variant]"))
        })?,
        None => Platform::host(),
    };
    let mut config = RunConfig::default();
    for c in m.all("change") {
        apply_change(&mut config, &c)?;
    }
    let opts = ImportOptions {
        reference,
        message: m.get("message").map(String::from),
        platform,
        config,
        source: m.args[0].clone(),
    };
    let mut store = open(g)?;
    let id = if m.args[0] == "-" {
        import::import(&mut store, std::io::stdin().lock(), &opts)?
    } else {
        let path = &m.args[0];
        if path.contains("://") {
            return Err(Failure::new(
                1,
                format!("importing from a URL is not supported: {path}"),
            ));
        }
        let f =
            std::fs::File::open(path).map_err(|e| Failure::new(1, format!("open {path}: {e}")))?;
        import::import(
            &mut store,
            std::io::BufReader::with_capacity(256 << 10, f),
            &opts,
        )?
    };
    println!("{id}");
    Ok(())
}

fn tag(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(cmd, &[], argv)?;
    need_args(cmd, &m, 2, Some(2), "exactly 2 arguments")?;
    let mut store = open(g)?;
    let img = store.resolve(&m.args[0])?;
    let target = Reference::parse(&m.args[1])?;
    if target.digest.is_some() {
        return Err(Failure::new(
            1,
            "refusing to create a tag with a digest reference",
        ));
    }
    store.tag(&img.id, &target)?;
    Ok(())
}

fn rmi(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[flag("force", Some('f')), flag("no-prune", None)],
        argv,
    )?;
    need_args(cmd, &m, 1, None, "at least 1 argument")?;
    let mut store = open(g)?;
    let mut failed = None;
    let mut out = std::io::stdout().lock();
    let mut any_deleted = false;
    for name in &m.args {
        match store.remove(name, m.on("force")) {
            Ok(r) => {
                for u in r.untagged {
                    let _ = writeln!(out, "Untagged: {u}");
                }
                for d in r.deleted {
                    any_deleted = true;
                    let _ = writeln!(out, "Deleted: {d}");
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("Error: {e}");
                failed = Some(Failure::new(1, String::new()));
            }
        }
    }
    if any_deleted && !m.on("no-prune") {
        store.collect_garbage()?;
    }
    match failed {
        // Each error was printed as it happened, like docker; only the status is left.
        Some(_) => std::process::exit(1),
        None => Ok(()),
    }
}

fn history(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            flag("human", Some('H')),
            flag("no-trunc", None),
            flag("quiet", Some('q')),
            opt("format", None),
        ],
        argv,
    )?;
    need_args(cmd, &m, 1, Some(1), "exactly 1 argument")?;
    let store = open(g)?;
    let img = store.resolve(&m.args[0])?;
    let cfg = store.config(&img)?;
    let chain = store.chain(&img)?;
    let mut sizes: Vec<u64> = Vec::new();
    let mut prev = 0;
    for c in &chain {
        let s = store
            .snapshots
            .stat(&store.db, &c.to_string())
            .map_or(0, |i| i.size);
        sizes.push(s);
        prev += s;
    }
    let _ = prev;
    let mut layer = sizes.len();
    let mut rows = Vec::new();
    let history: Vec<_> = if cfg.history.is_empty() {
        chain.iter().map(|_| Default::default()).collect()
    } else {
        cfg.history.clone()
    };
    let total = history.len();
    for (i, h) in history.iter().enumerate().rev() {
        let size = if h.empty_layer {
            0
        } else {
            layer = layer.saturating_sub(1);
            sizes.get(layer).copied().unwrap_or(0)
        };
        let created = h.created.as_deref().and_then(timefmt::parse);
        let mut by = h.created_by.clone().unwrap_or_default();
        if !m.on("no-trunc") && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        let id = if i + 1 == total {
            if m.on("no-trunc") {
                img.id.to_string()
            } else {
                short(&img.id)
            }
        } else {
            "<missing>".into()
        };
        rows.push(json!({
            "ID": id,
            "CreatedSince": created.map_or("N/A".into(), |c| timefmt::since(c, now())),
            "CreatedAt": created.map_or(String::new(), |c| timefmt::format(c, 0)),
            "CreatedBy": by,
            "Size": if m.get("human") == Some("false") { size.to_string() } else { human_size(size as f64) },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    format::print_listing(
        m.on("quiet"),
        m.get("format"),
        &rows,
        &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ],
    )
}

/// `docker image inspect`'s JSON for one image.
pub fn inspect_value(store: &Store, img: &Image) -> Result<Value> {
    let cfg: ImageConfig = store.config(img)?;
    let mut config = serde_json::to_value(&cfg.config).unwrap_or(json!({}));
    // Docker shows every field of its container config, empty ones included.
    let defaults = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null
    });
    if let (Some(c), Some(d)) = (config.as_object_mut(), defaults.as_object()) {
        for (k, v) in d {
            c.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let chain = store.chain(img)?;
    let upper = chain
        .last()
        .and_then(|c| store.snapshots.stat(&store.db, &c.to_string()).ok())
        .map(|i| store.snapshots.fs_dir(&i).display().to_string());
    let familiar = |v: &Vec<String>| -> Vec<String> {
        v.iter()
            .map(|t| Reference::parse(t).map_or(t.clone(), |r| r.familiar()))
            .collect()
    };
    let mut v = json!({
        "Id": img.id.to_string(),
        "RepoTags": familiar(&img.tags),
        "RepoDigests": familiar(&img.digests),
        "Parent": "",
        "Comment": cfg.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": cfg.created.clone().unwrap_or_default(),
        "DockerVersion": cfg.extra.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": cfg.author.clone().unwrap_or_default(),
        "Config": config,
        "Architecture": cfg.architecture,
        "Os": cfg.os,
        "Size": img.size,
        "GraphDriver": {
            "Data": {"MergedDir": null, "UpperDir": upper, "WorkDir": null},
            "Name": "overlayfs"
        },
        "RootFS": {"Type": "layers", "Layers": cfg.rootfs.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": img.media_type, "digest": img.manifest.to_string(), "size": store.content.size(&img.manifest).unwrap_or(0)},
    });
    if let Some(var) = cfg.variant {
        v["Variant"] = json!(var);
    }
    Ok(v)
}

pub fn confirm(prompt: &str) -> bool {
    print!("{prompt}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().take(64).read_to_string(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

fn prune(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            flag("all", Some('a')),
            flag("force", Some('f')),
            opt("filter", None),
        ],
        argv,
    )?;
    need_args(cmd, &m, 0, Some(0), "no arguments")?;
    let warning = if m.on("all") {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !m.on("force") && !confirm(warning) {
        return Ok(());
    }
    let mut store = open(g)?;
    let (removed, collected) = store.prune(m.on("all"))?;
    print_pruned(&removed, &collected);
    Ok(())
}

/// Docker's prune report.
fn print_pruned(removed: &berth_image::store::Removed, collected: &berth_image::gc::Collected) {
    let mut out = std::io::stdout().lock();
    if !removed.untagged.is_empty() || !removed.deleted.is_empty() {
        let _ = writeln!(out, "Deleted Images:");
        for u in &removed.untagged {
            let _ = writeln!(out, "untagged: {u}");
        }
        for d in &removed.deleted {
            let _ = writeln!(out, "deleted: {d}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(collected.bytes as f64)
    );
}

//! `berth stats`: Docker's live resource table. Every frame takes two samples a second
//! apart, since CPU % is a rate; `--no-stream` prints one frame and stops.

use std::io::Write;

use berth_engine::stats::Sample;
use berth_engine::{Container, Engine, Status};
use serde_json::{json, Value};

use crate::args::{self, flag, opt};
use crate::format::{self, bytes_size, human_size};
use crate::{Failure, Globals, Result};

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// The extra field a `table` template may name.
const ALL_HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

fn row(shown: &str, s: &Sample, prev: Option<&Sample>, no_trunc: bool) -> Value {
    let id = if no_trunc {
        s.id.clone()
    } else {
        s.id[..12.min(s.id.len())].to_string()
    };
    if !s.running {
        return json!({
            "Container": shown, "ID": id, "Name": s.name,
            "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%",
            "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0",
        });
    }
    let cpu = prev.map_or(0.0, |p| s.cpu_percent(p));
    json!({
        "Container": shown,
        "ID": id,
        "Name": s.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(s.mem_usage as f64), bytes_size(s.mem_limit as f64)),
        "MemPerc": format!("{:.2}%", s.mem_percent()),
        "NetIO": format!("{} / {}", human_size(s.net_rx as f64), human_size(s.net_tx as f64)),
        "BlockIO": format!("{} / {}", human_size(s.blk_read as f64), human_size(s.blk_write as f64)),
        "PIDs": s.pids.to_string(),
    })
}

/// The containers to show: those named (each must exist), else the running ones (all with
/// `-a`), each with the name it is shown by.
fn targets(engine: &mut Engine, names: &[String], all: bool) -> Result<Vec<(String, Container)>> {
    if names.is_empty() {
        let cs = engine
            .containers()
            .map_err(|e| Failure::new(1, e.to_string()))?;
        return Ok(cs
            .into_iter()
            .filter(|c| all || matches!(c.state.status, Status::Running | Status::Paused))
            .map(|c| (c.id.clone(), c))
            .collect());
    }
    let mut out = Vec::new();
    for n in names {
        let c = engine
            .refresh(n)
            .map_err(|e| Failure::new(1, e.to_string()).daemon())?;
        out.push((n.clone(), c));
    }
    Ok(out)
}

pub fn stats(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(
        &[
            flag("all", Some('a')),
            flag("no-stream", None),
            flag("no-trunc", None),
            opt("format", None),
        ],
        argv,
        true,
    )
    .map_err(|e| Failure::usage("stats", e))?;
    let mut engine = Engine::open(&g.root).map_err(|e| Failure::new(1, e.to_string()))?;
    let stream = !m.on("no-stream");
    let format = m.get("format").filter(|f| !f.is_empty());
    loop {
        let list = targets(&mut engine, &m.args, m.on("all"))?;
        let sample = |engine: &mut Engine| -> Vec<Option<Sample>> {
            list.iter()
                .map(|(_, c)| engine.stats_sample(c).ok())
                .collect()
        };
        let first = sample(&mut engine);
        std::thread::sleep(std::time::Duration::from_secs(1));
        let second = sample(&mut engine);
        let rows: Vec<Value> = list
            .iter()
            .zip(first.iter().zip(second.iter()))
            .map(|((shown, c), (a, b))| {
                // A container that stopped between the samples shows as stopped.
                let b = b.clone().unwrap_or_else(|| Sample {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    ..Default::default()
                });
                row(shown, &b, a.as_ref(), m.on("no-trunc"))
            })
            .collect();
        let text = match format {
            Some(f) => format::render_all(f, &rows, ALL_HEADERS),
            None => format::output(None, &rows, COLUMNS),
        }
        .map_err(|e| Failure::new(1, e))?;
        let mut out = std::io::stdout().lock();
        if stream {
            // Docker redraws in place: clear the screen, cursor home.
            let _ = out.write_all(b"\x1b[2J\x1b[H");
        }
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        if !stream {
            return Ok(());
        }
    }
}

//! `berth update`: flags parsed as docker parses them (a bad value is a usage error, 125,
//! before any container is touched), then one engine update per container.

use berth_engine::update::UpdateOptions;
use berth_engine::Engine;

use crate::args::{self, opt, Matches};
use crate::containers::ram_in_bytes;
use crate::{Failure, Globals, Result};

fn bad(flag: &str, v: &str, why: &str) -> Failure {
    Failure::usage(
        "update",
        format!("invalid argument {v:?} for \"{flag}\" flag: {why}"),
    )
}

fn int<T: std::str::FromStr>(m: &Matches, name: &str, shown: &str) -> Result<Option<T>> {
    m.get(name)
        .map(|v| {
            v.parse().map_err(|_| {
                bad(
                    shown,
                    v,
                    &format!("strconv.ParseInt: parsing {v:?}: invalid syntax"),
                )
            })
        })
        .transpose()
}

fn ram(m: &Matches, name: &str, shown: &str) -> Result<Option<i64>> {
    m.get(name)
        .map(|v| {
            // `-1` means unlimited where docker allows it (swap).
            if v == "-1" {
                return Ok(-1);
            }
            ram_in_bytes(shown, v).map_err(|mut f| {
                f.usage_of = Some("update".into());
                f
            })
        })
        .transpose()
}

fn options(m: &Matches) -> Result<UpdateOptions> {
    let cpus = m
        .get("cpus")
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| (n * 1e9) as i64)
                .ok_or_else(|| {
                    bad(
                        "--cpus",
                        v,
                        &format!("failed to parse {v} as a rational number"),
                    )
                })
        })
        .transpose()?;
    let restart = m.get("restart").map(String::from);
    if let Some(r) = &restart {
        let (name, count) = r.split_once(':').unwrap_or((r, ""));
        let ok = match name {
            "no" | "always" | "unless-stopped" => count.is_empty(),
            "on-failure" => count.is_empty() || count.parse::<u32>().is_ok(),
            _ => false,
        };
        if !ok {
            return Err(Failure::new(125, format!("invalid restart policy '{r}'")));
        }
    }
    Ok(UpdateOptions {
        memory: ram(m, "memory", "-m, --memory")?,
        memory_swap: ram(m, "memory-swap", "--memory-swap")?,
        memory_reservation: ram(m, "memory-reservation", "--memory-reservation")?,
        nano_cpus: cpus,
        cpu_shares: int(m, "cpu-shares", "-c, --cpu-shares")?,
        cpu_period: int(m, "cpu-period", "--cpu-period")?,
        cpu_quota: int(m, "cpu-quota", "--cpu-quota")?,
        cpuset_cpus: m.get("cpuset-cpus").map(String::from),
        cpuset_mems: m.get("cpuset-mems").map(String::from),
        pids_limit: int(m, "pids-limit", "--pids-limit")?,
        blkio_weight: int(m, "blkio-weight", "--blkio-weight")?,
        restart,
    })
}

const FLAGS: &[args::Flag] = &[
    opt("memory", Some('m')),
    opt("memory-swap", None),
    opt("memory-reservation", None),
    opt("kernel-memory", None),
    opt("cpus", None),
    opt("cpu-shares", Some('c')),
    opt("cpu-period", None),
    opt("cpu-quota", None),
    opt("cpu-rt-period", None),
    opt("cpu-rt-runtime", None),
    opt("cpuset-cpus", None),
    opt("cpuset-mems", None),
    opt("pids-limit", None),
    opt("blkio-weight", None),
    opt("restart", None),
];

pub fn update(g: &Globals, argv: &[String]) -> Result<()> {
    let m = args::parse(FLAGS, argv, true).map_err(|e| Failure::usage("update", e))?;
    if m.args.is_empty() {
        return Err(Failure::usage(
            "update",
            "\"berth update\" requires at least 1 argument.",
        ));
    }
    let o = options(&m)?;
    let any = FLAGS.iter().any(|f| m.get(f.long).is_some());
    if !any {
        return Err(Failure::new(
            1,
            "you must provide one or more flags when using this command",
        ));
    }
    let mut engine = Engine::open(&g.root).map_err(|e| Failure::new(1, e.to_string()))?;
    let mut failed = false;
    for name in &m.args {
        match engine.update(name, &o) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        // Each failure is reported above, as docker does.
        std::process::exit(1);
    }
    Ok(())
}

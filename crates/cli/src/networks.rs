//! `berth network`: create, ls, inspect, rm, prune, connect and disconnect.

use std::collections::BTreeMap;
use std::io::Write;

use berth_engine::network::{self, Network, NetworkCreate};
use berth_engine::{EngineError, Kind};
use serde_json::{json, Value};

use crate::args::{self, flag, opt, Flag, Matches};
use crate::format;
use crate::objects::{self, daemon, open, or_exit, pairs};
use crate::{Failure, Globals, Result};

pub const USAGE: &str = "Usage:  berth network COMMAND

Manage networks

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'berth network COMMAND --help' for more information on a command.
";

const CREATE_USAGE: &str = "Usage:  berth network create [OPTIONS] NETWORK

Create a network

Options:
      --attachable         Enable manual container attachment
  -d, --driver string      Driver to manage the Network (default \"bridge\")
      --gateway string     IPv4 Gateway for the master subnet
      --internal           Restrict external access to the network
      --ip-range string    Allocate container ip from a sub-range
      --ipv6               Enable IPv6 networking (not supported yet)
  -l, --label list         Set metadata on a network
  -o, --opt map            Set driver specific options (default map[])
      --subnet string      Subnet in CIDR format that represents a network segment
";

const LS_USAGE: &str = "Usage:  berth network ls [OPTIONS]

List networks

Aliases:
  berth network ls, berth network list

Options:
  -f, --filter filter   Provide filter values (e.g. \"driver=bridge\")
      --format string   Format output using a custom template
      --no-trunc        Do not truncate the output
  -q, --quiet           Only display network IDs
";

const INSPECT_USAGE: &str = "Usage:  berth network inspect [OPTIONS] NETWORK [NETWORK...]

Display detailed information on one or more networks

Options:
  -f, --format string   Format output using a custom template
  -v, --verbose         Verbose output for diagnostics
";

const RM_USAGE: &str = "Usage:  berth network rm NETWORK [NETWORK...]

Remove one or more networks

Aliases:
  berth network rm, berth network remove

Options:
  -f, --force   Do not error if the network does not exist
";

const CONNECT_USAGE: &str = "Usage:  berth network connect [OPTIONS] NETWORK CONTAINER

Connect a container to a network

Options:
      --alias strings           Add network-scoped alias for the container
      --ip string               IPv4 address (e.g., \"172.30.100.104\")
      --link list               Add link to another container
";

const DISCONNECT_USAGE: &str = "Usage:  berth network disconnect [OPTIONS] NETWORK CONTAINER

Disconnect a container from a network

Options:
  -f, --force   Force the container to disconnect from a network
";

const PRUNE_USAGE: &str = "Usage:  berth network prune [OPTIONS]

Remove all unused networks

Options:
      --filter filter   Provide filter values (e.g. \"until=<timestamp>\")
  -f, --force           Do not prompt for confirmation
";

/// Parses, and prints `usage` and exits on `--help`.
fn parse(cmd: &str, flags: &[Flag], argv: &[String], usage: &str) -> Result<Matches> {
    let mut all = flags.to_vec();
    all.push(flag("help", Some('h')));
    let m = args::parse(&all, argv, true).map_err(|e| Failure::usage(cmd, e))?;
    if m.on("help") {
        print!("{usage}");
        std::process::exit(0);
    }
    Ok(m)
}

pub fn dispatch(g: &Globals, argv: &[String]) -> Result<()> {
    let Some((sub, tail)) = argv.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    match sub.as_str() {
        "create" => create(g, tail),
        "ls" | "list" => ls(g, tail),
        "inspect" => inspect(g, tail),
        "rm" | "remove" => rm(g, tail),
        "prune" => prune(g, tail),
        "connect" => connect(g, tail),
        "disconnect" => disconnect(g, tail),
        "--help" | "-h" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::usage(
            "network",
            format!("unknown command \"{other}\" for \"berth network\""),
        )),
    }
}

/// At most one value of a flag (berth's networks have one IPv4 pool).
fn single(m: &Matches, name: &str) -> Result<Option<String>> {
    let all = m.all(name);
    if all.len() > 1 {
        return Err(Failure::new(
            1,
            format!(
                "multiple --{name} values are not supported: berth networks have one IPv4 subnet"
            ),
        ));
    }
    Ok(all.into_iter().next())
}

fn create(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network create";
    let m = parse(
        cmd,
        &[
            opt("driver", Some('d')),
            opt("subnet", None),
            opt("gateway", None),
            opt("ip-range", None),
            flag("internal", None),
            flag("attachable", None),
            opt("label", Some('l')),
            opt("opt", Some('o')),
            flag("ipv6", None),
        ],
        argv,
        CREATE_USAGE,
    )?;
    if m.args.len() != 1 {
        return Err(Failure::usage(
            cmd,
            "\"berth network create\" requires exactly 1 argument.",
        ));
    }
    let o = NetworkCreate {
        name: m.args[0].clone(),
        driver: m.get("driver").unwrap_or("bridge").to_string(),
        subnet: single(&m, "subnet")?,
        gateway: single(&m, "gateway")?,
        ip_range: single(&m, "ip-range")?,
        internal: m.on("internal"),
        attachable: m.on("attachable"),
        labels: pairs(m.all("label")),
        options: pairs(m.all("opt")),
        ipv6: m.on("ipv6"),
    };
    let mut engine = open(g);
    let n = or_exit(engine.network_create(o));
    println!("{}", n.id);
    Ok(())
}

fn row(n: &Network, no_trunc: bool) -> Value {
    let id = if no_trunc { &n.id[..] } else { &n.id[..12] };
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": "local",
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "CreatedAt": n.created,
    })
}

/// Docker's `sortorder.NaturalLess`: runs of digits compare as numbers, the rest bytewise.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (x, y) = (&a[si..i], &b[sj..j]);
            let trim = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
            let (x, y) = (&x[trim(x)..], &y[trim(y)..]);
            let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = a[i].cmp(&b[j]);
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn bad_filter(f: &str) -> ! {
    daemon(EngineError::Invalid(format!("invalid filter '{f}'")))
}

fn ls(g: &Globals, argv: &[String]) -> Result<()> {
    let m = parse(
        "network ls",
        &[
            flag("quiet", Some('q')),
            flag("no-trunc", None),
            opt("filter", Some('f')),
            opt("format", None),
        ],
        argv,
        LS_USAGE,
    )?;
    let mut engine = open(g);
    let mut list = or_exit(engine.network_list());
    // Docker ORs values of one filter key and ANDs the keys.
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in m.all("filter") {
        let (k, v) = f.split_once('=').unwrap_or_else(|| bad_filter(&f));
        by_key.entry(k.to_string()).or_default().push(v.to_string());
    }
    for (k, vals) in &by_key {
        let matches = |n: &Network, v: &str| -> bool {
            match k.as_str() {
                "name" => n.name.contains(v),
                "id" => n.id.starts_with(v),
                "driver" => n.driver == v,
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                    None => n.labels.contains_key(v),
                },
                "scope" => v == "local",
                "type" => match v {
                    "custom" => !n.predefined,
                    "builtin" => n.predefined,
                    _ => daemon(EngineError::Invalid(format!(
                        "invalid filter: 'type'='{v}'"
                    ))),
                },
                "dangling" => {
                    let want = match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => daemon(EngineError::Invalid(format!(
                            "invalid filter 'dangling={v}'"
                        ))),
                    };
                    let unused =
                        !n.predefined && or_exit(engine.network_endpoints(&n.id)).is_empty();
                    unused == want
                }
                _ => bad_filter(&format!("{k}={v}")),
            }
        };
        list.retain(|n| vals.iter().any(|v| matches(n, v)));
    }
    // The docker CLI sorts by name, naturally (net2 before net10).
    list.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let no_trunc = m.on("no-trunc");
    let rows: Vec<Value> = list.iter().map(|n| row(n, no_trunc)).collect();
    if m.get("format") == Some("json") && !m.on("quiet") {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            let _ = writeln!(out, "{r}");
        }
        return Ok(());
    }
    format::print_listing(
        m.on("quiet"),
        m.get("format"),
        &rows,
        &[
            ("ID", "NETWORK ID"),
            ("Name", "NAME"),
            ("Driver", "DRIVER"),
            ("Scope", "SCOPE"),
        ],
    )
}

fn inspect(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network inspect";
    let m = parse(
        cmd,
        &[opt("format", Some('f')), flag("verbose", Some('v'))],
        argv,
        INSPECT_USAGE,
    )?;
    if m.args.is_empty() {
        return Err(Failure::usage(
            cmd,
            "\"berth network inspect\" requires at least 1 argument.",
        ));
    }
    let mut engine = open(g);
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for name in &m.args {
        match engine.network_find(name) {
            Ok(n) => {
                let eps = or_exit(engine.network_endpoints(&n.id));
                values.push(network::inspect_json(&n, &eps));
            }
            Err(e) if e.kind() == Kind::NotFound => errors.push(e),
            Err(e) => daemon(e),
        }
    }
    format::print_inspect(m.get("format"), &values)?;
    if !errors.is_empty() {
        let _ = std::io::stdout().flush();
        for e in &errors {
            eprintln!("Error response from daemon: {e}");
        }
        std::process::exit(1);
    }
    Ok(())
}

fn connect(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network connect";
    let m = parse(
        cmd,
        &[opt("alias", None), opt("ip", None), opt("link", None)],
        argv,
        CONNECT_USAGE,
    )?;
    let [net, container] = m.args.as_slice() else {
        return Err(Failure::usage(
            cmd,
            "\"berth network connect\" requires exactly 2 arguments.",
        ));
    };
    let req = berth_engine::endpoint::EndpointRequest {
        ipv4_address: m.get("ip").unwrap_or_default().to_string(),
        aliases: m.all("alias"),
        links: m.all("link"),
        ..Default::default()
    };
    let mut engine = open(g);
    or_exit(engine.network_connect(net, container, req));
    Ok(())
}

fn disconnect(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network disconnect";
    let m = parse(cmd, &[flag("force", Some('f'))], argv, DISCONNECT_USAGE)?;
    let [net, container] = m.args.as_slice() else {
        return Err(Failure::usage(
            cmd,
            "\"berth network disconnect\" requires exactly 2 arguments.",
        ));
    };
    let mut engine = open(g);
    match engine.network_disconnect(net, container) {
        // -f: a container gone, or no longer there, is disconnected enough.
        Err(e) if m.on("force") && e.kind() == Kind::NotFound => Ok(()),
        r => {
            or_exit(r);
            Ok(())
        }
    }
}

fn rm(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network rm";
    let m = parse(cmd, &[flag("force", Some('f'))], argv, RM_USAGE)?;
    if m.args.is_empty() {
        return Err(Failure::usage(
            cmd,
            "\"berth network rm\" requires at least 1 argument.",
        ));
    }
    let mut engine = open(g);
    objects::remove_each(&m.args, m.on("force"), |name| {
        engine.network_remove(name).map(|_| ())
    });
    Ok(())
}

fn prune(g: &Globals, argv: &[String]) -> Result<()> {
    let cmd = "network prune";
    let m = parse(
        cmd,
        &[flag("force", Some('f')), opt("filter", None)],
        argv,
        PRUNE_USAGE,
    )?;
    let filters = m.all("filter");
    for f in &filters {
        if !matches!(
            f.split_once('=').map(|(k, _)| k),
            Some("until" | "label" | "label!")
        ) {
            bad_filter(f);
        }
    }
    if !m.on("force")
        && !crate::images::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(());
    }
    let mut engine = open(g);
    let removed = or_exit(engine.network_prune(&filters));
    if !removed.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Deleted Networks:");
        for name in &removed {
            let _ = writeln!(out, "{name}");
        }
        let _ = writeln!(out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;

    #[test]
    fn natural_order() {
        let mut v = vec!["net10", "net2", "bridge", "net1", "a", "net02x", "host"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["a", "bridge", "host", "net1", "net2", "net02x", "net10"]
        );
    }
}

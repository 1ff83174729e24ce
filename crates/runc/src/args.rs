//! A small command-line parser for runc's grammar.
//!
//! runc's CLI is a handful of verbs with flat flags; a general-purpose parser costs more
//! startup time than the whole container lifecycle can spare, so this one does just that
//! grammar: `--name value`, `--name=value`, `-x value`, boolean flags, positionals, `--`, and
//! verbs whose trailing arguments belong to the container process.

use std::collections::HashMap;

/// A flag a verb accepts.
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
    pub help: &'static str,
}

pub const fn flag(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        value: false,
        help,
    }
}

pub const fn opt(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        value: true,
        help,
    }
}

/// Parsed flags and positionals of one verb.
#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<&'static str, Vec<String>>,
    pub positionals: Vec<String>,
    /// Arguments after the positionals a verb takes (exec's command line, ps options).
    pub trailing: Vec<String>,
    /// Set by the caller from the global flags.
    pub systemd_cgroup: bool,
}

impl Matches {
    pub fn with_systemd_cgroup(mut self, on: bool) -> Self {
        self.systemd_cgroup = on;
        self
    }
    pub fn has(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }
    pub fn get(&self, long: &str) -> Option<&str> {
        self.values
            .get(long)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
    pub fn all(&self, long: &str) -> Vec<String> {
        self.values.get(long).cloned().unwrap_or_default()
    }
}

/// Parses `args` against `flags`. After `positionals` positional arguments, the rest goes
/// to `trailing` unparsed when `trailing` is allowed.
pub fn parse(
    args: &[String],
    flags: &[&[Flag]],
    positionals: usize,
    trailing: bool,
) -> Result<Matches, String> {
    let find_long = |name: &str| flags.iter().flat_map(|f| f.iter()).find(|f| f.long == name);
    let find_short = |c: char| {
        flags
            .iter()
            .flat_map(|f| f.iter())
            .find(|f| f.short == Some(c))
    };
    let mut m = Matches::default();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if trailing && m.positionals.len() >= positionals {
            m.trailing.push(a.clone());
            m.trailing.extend(it.by_ref().cloned());
            break;
        }
        if a == "--" {
            for rest in it.by_ref() {
                if m.positionals.len() < positionals || !trailing {
                    m.positionals.push(rest.clone());
                } else {
                    m.trailing.push(rest.clone());
                }
            }
            break;
        }
        let (f, inline) = if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let f =
                find_long(name).ok_or_else(|| format!("flag provided but not defined: -{name}"))?;
            (f, inline)
        } else if a.len() > 1
            && a.starts_with('-')
            && !a[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            // Go's flag rules, which runc follows: `-name` or `-name=value`, where the name
            // is a long name or a one-letter short one; no bundling.
            let body = &a[1..];
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let mut chars = name.chars();
            let short = match (chars.next(), chars.next()) {
                (Some(c), None) => find_short(c),
                _ => None,
            };
            let f = find_long(name)
                .or(short)
                .ok_or_else(|| format!("flag provided but not defined: -{name}"))?;
            (f, inline)
        } else {
            m.positionals.push(a.clone());
            continue;
        };
        let value = if f.value {
            match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: --{}", f.long))?,
            }
        } else {
            match inline.as_deref() {
                None | Some("true") => "true".to_string(),
                Some("false") => continue,
                Some(v) => return Err(format!("invalid boolean value {v:?} for --{}", f.long)),
            }
        };
        m.values.entry(f.long).or_default().push(value);
    }
    Ok(m)
}

/// Usage text for a verb.
pub fn usage(verb: &str, synopsis: &str, about: &str, flags: &[&[Flag]]) -> String {
    let mut s = format!(
        "berth-runc {verb} - {about}\n\nUSAGE:\n   berth-runc {verb} {synopsis}\n\nOPTIONS:\n"
    );
    for f in flags.iter().flat_map(|f| f.iter()) {
        let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        let val = if f.value { " value" } else { "" };
        s.push_str(&format!("   {short}--{}{val}\t{}\n", f.long, f.help));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &[Flag] = &[
        opt("bundle", Some('b'), ""),
        flag("detach", Some('d'), ""),
        opt("env", Some('e'), ""),
    ];

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms() {
        let m = parse(&v(&["-b", "x", "--detach", "id"]), &[F], 1, false).unwrap();
        assert_eq!(m.get("bundle"), Some("x"));
        assert!(m.has("detach"));
        assert_eq!(m.positionals, ["id"]);
        let m = parse(&v(&["--bundle=y", "-bundle", "z", "id"]), &[F], 1, false).unwrap();
        assert_eq!(m.get("bundle"), Some("z"));
        let m = parse(
            &v(&["-e", "A=1", "--env=B=2", "id", "sh", "-c", "x"]),
            &[F],
            1,
            true,
        )
        .unwrap();
        assert_eq!(m.all("env"), ["A=1", "B=2"]);
        assert_eq!(m.trailing, ["sh", "-c", "x"]);
        let m = parse(&v(&["id", "--", "-9"]), &[F], 2, false).unwrap();
        assert_eq!(m.positionals, ["id", "-9"]);
        let m = parse(&v(&["id", "-9"]), &[F], 2, false).unwrap();
        assert_eq!(m.positionals, ["id", "-9"]);
        assert!(parse(&v(&["--nope"]), &[F], 1, false)
            .unwrap_err()
            .contains("nope"));
        assert!(parse(&v(&["--bundle"]), &[F], 1, false)
            .unwrap_err()
            .contains("bundle"));
        assert!(!parse(&v(&["--detach=false"]), &[F], 1, false)
            .unwrap()
            .has("detach"));
    }
}

//! Docker's flag grammar (spf13/pflag): `--name value`, `--name=value`, `-n value`, `-nvalue`,
//! grouped short booleans (`-aq`), `--bool=false`, repeatable flags, and `--` ending flags.
//! Commands that run a program stop at their first positional argument (not interspersed),
//! so that `berth run img ls -l` leaves `-l` to `ls`.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
}

pub const fn flag(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        value: false,
    }
}

pub const fn opt(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        value: true,
    }
}

#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
}

impl Matches {
    /// A boolean flag: present and not set to false.
    pub fn on(&self, long: &str) -> bool {
        self.values
            .get(long)
            .and_then(|v| v.last())
            .is_some_and(|v| v != "false")
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

/// Parses `argv` (after the command name) against `flags`. Errors are pflag's wording.
pub fn parse(flags: &[Flag], argv: &[String], interspersed: bool) -> Result<Matches, String> {
    let mut m = Matches::default();
    let mut i = 0;
    let find_long = |n: &str| flags.iter().find(|f| f.long == n);
    let find_short = |c: char| flags.iter().find(|f| f.short == Some(c));
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if a == "--" {
            m.args.extend(argv[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if name.is_empty() {
                return Err(format!("bad flag syntax: {a}"));
            }
            let f = find_long(name).ok_or_else(|| format!("unknown flag: --{name}"))?;
            let v = if f.value {
                match inline {
                    Some(v) => v,
                    None if i < argv.len() => {
                        i += 1;
                        argv[i - 1].clone()
                    }
                    None => return Err(format!("flag needs an argument: --{name}")),
                }
            } else {
                // strconv.ParseBool's spellings.
                match inline.as_deref() {
                    None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => "true".into(),
                    Some("0" | "f" | "F" | "false" | "FALSE" | "False") => "false".into(),
                    Some(v) => {
                        return Err(format!(
                            "invalid argument {v:?} for \"--{name}\" flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
                        ))
                    }
                }
            };
            m.values.entry(f.long).or_default().push(v);
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let f =
                    find_short(c).ok_or_else(|| format!("unknown shorthand flag: '{c}' in {a}"))?;
                if f.value {
                    let rest: String = chars[j..].iter().collect();
                    let v = if let Some(r) = rest.strip_prefix('=') {
                        r.to_string()
                    } else if !rest.is_empty() {
                        rest
                    } else if i < argv.len() {
                        i += 1;
                        argv[i - 1].clone()
                    } else {
                        return Err(format!("flag needs an argument: '{c}' in -{c}"));
                    };
                    m.values.entry(f.long).or_default().push(v);
                    break;
                }
                m.values.entry(f.long).or_default().push("true".into());
            }
            continue;
        }
        m.args.push(a.clone());
        if !interspersed {
            m.args.extend(argv[i..].iter().cloned());
            break;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        flag("all", Some('a')),
        flag("quiet", Some('q')),
        opt("format", None),
        opt("env", Some('e')),
    ];

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pflag_forms() {
        let m = parse(
            FLAGS,
            &v(&["-aq", "--format={{.ID}}", "x", "-e", "A=1", "-eB=2"]),
            true,
        )
        .unwrap();
        assert!(m.on("all") && m.on("quiet"));
        assert_eq!(m.get("format"), Some("{{.ID}}"));
        assert_eq!(m.all("env"), v(&["A=1", "B=2"]));
        assert_eq!(m.args, v(&["x"]));
        let m = parse(FLAGS, &v(&["--all=false", "--", "-q"]), true).unwrap();
        assert!(!m.on("all") && !m.on("quiet"));
        assert_eq!(m.args, v(&["-q"]));
        let m = parse(FLAGS, &v(&["img", "ls", "-a"]), false).unwrap();
        assert_eq!(m.args, v(&["img", "ls", "-a"]));
        assert!(!m.on("all"));
    }

    #[test]
    fn pflag_errors() {
        assert_eq!(
            parse(FLAGS, &v(&["--bogus"]), true).unwrap_err(),
            "unknown flag: --bogus"
        );
        assert_eq!(
            parse(FLAGS, &v(&["-z"]), true).unwrap_err(),
            "unknown shorthand flag: 'z' in -z"
        );
        assert_eq!(
            parse(FLAGS, &v(&["--format"]), true).unwrap_err(),
            "flag needs an argument: --format"
        );
    }

    #[test]
    fn pflag_bools_and_bad_syntax() {
        let m = parse(FLAGS, &v(&["--all=T", "--quiet=False"]), true).unwrap();
        assert!(m.on("all") && !m.on("quiet"));
        assert_eq!(
            parse(FLAGS, &v(&["--all=yes"]), true).unwrap_err(),
            "invalid argument \"yes\" for \"--all\" flag: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            parse(FLAGS, &v(&["--=x"]), true).unwrap_err(),
            "bad flag syntax: --=x"
        );
    }

    fn arg() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            ".{0,8}",
            prop::sample::select(vec![
                "-",
                "--",
                "-a",
                "-q",
                "-aq",
                "-ae",
                "-eX",
                "-e=Y",
                "-e",
                "--all",
                "--all=false",
                "--all=x",
                "--format",
                "--format=",
                "--env",
                "--env=A=1",
                "--bogus",
                "-z",
                "-é",
                "--=",
                "x",
                "é",
            ])
            .prop_map(String::from),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::with_cases(256)
        })]

        /// Any argv: parsed or refused, never a panic; positionals are arguments given,
        /// and a command that stops at its first positional keeps the rest as it was.
        #[test]
        fn argv_never_panics(argv in proptest::collection::vec(arg(), 0..8), inter in proptest::bool::ANY) {
            if let Ok(m) = parse(FLAGS, &argv, inter) {
                if !inter {
                    proptest::prop_assert!(argv.ends_with(&m.args));
                }
                for a in &m.args {
                    proptest::prop_assert!(argv.contains(a));
                }
            }
        }
    }
}

//! Docker's output conventions: tabwriter tables, go-units sizes, and the common forms of
//! Go templates that `--format` takes (`{{.ID}}`, `{{json .}}`, `table {{.ID}}\t{{.Size}}`).

use serde_json::Value;

/// Docker's tables: Go's tabwriter with minwidth 10, padding 3, no padding after the last
/// column.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count() + 3).max(10);
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count();
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// go-units HumanSizeWithPrecision(size, 3): decimal units, three significant digits.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i < UNITS.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(s, 3), UNITS[i])
}

/// go-units BytesSize: binary units, four significant digits (`1.5MiB`), as `stats` shows
/// memory.
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i < UNITS.len() - 1 {
        s /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(s, 4), UNITS[i])
}

/// Go's `%.{p}g`: shortest of %e/%f with `p` significant digits, trailing zeros dropped.
fn go_g(v: f64, p: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if exp < -4 || exp >= p {
        let s = format!("{:.*e}", (p - 1) as usize, v);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = trim_zeros(m);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (p - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// How Go's text/template prints a value.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => format!(
            "map[{}]",
            o.iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[derive(Debug)]
enum Piece {
    Text(String),
    Action(Vec<String>),
}

/// A parsed `--format` template.
#[derive(Debug)]
pub struct Template {
    pieces: Vec<Piece>,
    pub table: bool,
}

fn tokens(action: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = action.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::from('"');
                loop {
                    match chars.next() {
                        Some('\\') => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        Some('"') => break,
                        Some(n) => s.push(n),
                        None => return Err(format!("unterminated quoted string in {action:?}")),
                    }
                }
                out.push(s);
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let (table, body) = match src.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, src),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut pieces = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("template: unclosed action in {src:?}"))?;
            let action = after[..end]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            pieces.push(Piece::Action(tokens(action)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces, table })
    }

    fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
        let mut cur = v;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            cur = match cur {
                Value::Object(o) => o.get(part).unwrap_or(&Value::Null),
                _ => return Err(format!("can't evaluate field {part}")),
            };
        }
        Ok(cur)
    }

    fn arg(v: &Value, t: &str) -> Result<Value, String> {
        if let Some(s) = t.strip_prefix('"') {
            return Ok(Value::String(s.to_string()));
        }
        if t.starts_with('.') {
            return Self::field(v, t).cloned();
        }
        Err(format!("function {t:?} not defined"))
    }

    fn eval(v: &Value, toks: &[String]) -> Result<String, String> {
        let Some(head) = toks.first() else {
            return Ok(String::new());
        };
        if head.starts_with('.') {
            return Ok(go_print(Self::field(v, head)?));
        }
        let args: Vec<Value> = toks[1..]
            .iter()
            .map(|t| Self::arg(v, t))
            .collect::<Result<_, _>>()?;
        let first = || args.first().cloned().unwrap_or(Value::Null);
        match head.as_str() {
            "json" => Ok(serde_json::to_string(&first()).unwrap_or_default()),
            "upper" => Ok(go_print(&first()).to_uppercase()),
            "lower" => Ok(go_print(&first()).to_lowercase()),
            "title" => {
                let s = go_print(&first());
                let mut c = s.chars();
                Ok(c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default())
            }
            "len" => Ok(match first() {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.len(),
                _ => 0,
            }
            .to_string()),
            "join" => {
                let sep = args.get(1).and_then(Value::as_str).unwrap_or("");
                Ok(match first() {
                    Value::Array(a) => a.iter().map(go_print).collect::<Vec<_>>().join(sep),
                    other => go_print(&other),
                })
            }
            "index" => {
                let key = args.get(1).cloned().unwrap_or(Value::Null);
                Ok(match (first(), key) {
                    (Value::Object(o), Value::String(k)) => {
                        go_print(o.get(&k).unwrap_or(&Value::Null))
                    }
                    (Value::Array(a), Value::String(k)) => k
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| a.get(i))
                        .map(go_print)
                        .unwrap_or_default(),
                    _ => String::new(),
                })
            }
            "println" => Ok(format!(
                "{}\n",
                args.iter().map(go_print).collect::<Vec<_>>().join(" ")
            )),
            other => Err(format!("function {other:?} not defined")),
        }
    }

    pub fn render(&self, v: &Value) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Action(toks) => {
                    out.push_str(&Self::eval(v, toks).map_err(|e| format!("template: {e}"))?)
                }
            }
        }
        Ok(out)
    }

    /// A listing's rows are Go structs in docker: a field they don't have is an error
    /// (`{{.Bogus}}`), not `<no value>`. Only the first step of each path is checked;
    /// what is below it may be a map.
    pub fn check_fields(&self, row: &Value) -> Result<(), String> {
        let Value::Object(o) = row else {
            return Ok(());
        };
        for p in &self.pieces {
            let Piece::Action(toks) = p else { continue };
            for t in toks {
                let Some(first) = t.strip_prefix('.').and_then(|f| f.split('.').next()) else {
                    continue;
                };
                if !first.is_empty() && !o.contains_key(first) {
                    return Err(format!(
                        "template: executing \"\" at <{t}>: can't evaluate field {first}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The header row of a `table` template: each field's name, upper-cased and spaced the
    /// way docker labels it, from `headers`.
    pub fn header(&self, headers: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Action(toks) => {
                    let f = toks.last().map(String::as_str).unwrap_or("");
                    let name = f.trim_start_matches('.');
                    let h = headers
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, h)| h.to_string())
                        .unwrap_or_else(|| name.to_uppercase());
                    out.push_str(&h);
                }
            }
        }
        out
    }
}

/// Renders rows through a `--format` template; a `table` template gets a header and aligned
/// columns, as in docker.
pub fn render_all(src: &str, items: &[Value], headers: &[(&str, &str)]) -> Result<String, String> {
    let t = Template::parse(src)?;
    if let Some(v) = items.first() {
        t.check_fields(v)?;
    }
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(headers));
    }
    for v in items {
        lines.push(t.render(v)?);
    }
    if t.table {
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        return Ok(table(&rows));
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    Ok(out)
}

/// What a listing prints: through `--format` when given, else docker's default table of
/// `columns` (field, header); the headers also name the fields of a `table` template.
pub fn output(
    format: Option<&str>,
    rows: &[Value],
    columns: &[(&str, &str)],
) -> Result<String, String> {
    if let Some(f) = format {
        return render_all(f, rows, columns);
    }
    let mut t = vec![columns
        .iter()
        .map(|(_, h)| h.to_string())
        .collect::<Vec<_>>()];
    for r in rows {
        t.push(
            columns
                .iter()
                .map(|(k, _)| r[*k].as_str().unwrap_or_default().to_string())
                .collect(),
        );
    }
    Ok(table(&t))
}

/// Prints a listing: only the IDs with `-q`, else [`output`].
pub fn print_listing(
    quiet: bool,
    format: Option<&str>,
    rows: &[Value],
    columns: &[(&str, &str)],
) -> Result<(), crate::Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if quiet {
        for r in rows {
            let _ = writeln!(out, "{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let s = output(format, rows, columns).map_err(|e| crate::Failure::new(1, e))?;
    let _ = out.write_all(s.as_bytes());
    Ok(())
}

/// Prints what `inspect` found: each object through `--format` when given, else all of
/// them as one pretty JSON array, as docker does.
pub fn print_inspect(format: Option<&str>, values: &[Value]) -> Result<(), crate::Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match format {
        Some(f) => {
            let t = Template::parse(f).map_err(|e| crate::Failure::new(1, e))?;
            for v in values {
                let line = t.render(v).map_err(|e| crate::Failure::new(1, e))?;
                let _ = writeln!(out, "{line}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(values).unwrap_or_default()
            );
        }
    }
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(4_261_000.0), "4.26MB");
        assert_eq!(human_size(123.0), "123B");
        assert_eq!(human_size(12_345.0), "12.3kB");
        assert_eq!(human_size(1_000_000.0), "1MB");
        assert_eq!(human_size(0.0), "0B");
    }

    #[test]
    fn templates() {
        let v =
            json!({"ID": "abc", "Config": {"Cmd": ["sh", "-c"], "Labels": {"a": "b"}}, "N": null});
        let r = |s: &str| Template::parse(s).unwrap().render(&v).unwrap();
        assert_eq!(r("{{.ID}}"), "abc");
        assert_eq!(r("{{.Config.Cmd}}"), "[sh -c]");
        assert_eq!(r("{{json .Config.Cmd}}"), r#"["sh","-c"]"#);
        assert_eq!(r("{{index .Config.Labels \"a\"}}"), "b");
        assert_eq!(r("{{.N}}"), "<no value>");
        assert_eq!(r("{{join .Config.Cmd \",\"}}"), "sh,-c");
        assert!(Template::parse("{{.ID").is_err());
        let out = render_all("table {{.ID}}\\t{{.ID}}", &[v], &[("ID", "IMAGE ID")]).unwrap();
        assert_eq!(out, "IMAGE ID   IMAGE ID\nabc        abc\n");
    }

    #[test]
    fn unknown_fields_of_a_listing_are_errors() {
        let rows = [json!({"ID": "abc", "Labels": {"a": "b"}})];
        let err = render_all("{{.Bogus}}", &rows, &[]).unwrap_err();
        assert_eq!(
            err,
            "template: executing \"\" at <.Bogus>: can't evaluate field Bogus"
        );
        assert!(render_all("{{json .Labels.x}} {{index .Labels \"a\"}}", &rows, &[]).is_ok());
        assert!(render_all("{{upper .Nope}}", &rows, &[]).is_err());
        assert_eq!(
            render_all("{{json .}}", &rows, &[]).unwrap(),
            "{\"ID\":\"abc\",\"Labels\":{\"a\":\"b\"}}\n"
        );
    }

    fn template_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            ".{0,30}",
            prop::collection::vec(
                prop_oneof![
                    Just("{{".to_string()),
                    Just("}}".to_string()),
                    Just("{{-".to_string()),
                    Just("-}}".to_string()),
                    Just("table ".to_string()),
                    Just("\\t".to_string()),
                    Just("\"".to_string()),
                    Just("\\".to_string()),
                    Just(" ".to_string()),
                    Just(".".to_string()),
                    Just(".ID".to_string()),
                    Just(".Config.Cmd".to_string()),
                    Just(".Labels.a".to_string()),
                    Just(".N.x".to_string()),
                    Just(".Bogus".to_string()),
                    prop::sample::select(vec![
                        "json", "upper", "lower", "title", "len", "join", "index", "println",
                        "printf", "nope",
                    ])
                    .prop_map(String::from),
                    "[a-zé\"]{0,3}",
                ],
                0..12,
            )
            .prop_map(|v| v.concat()),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::with_cases(256)
        })]

        /// Any `--format` text: parse, render, header and the listing path return without
        /// panicking; a template naming a field the rows lack is an error.
        #[test]
        fn templates_never_panic(src in template_text()) {
            let v = json!({"ID": "abc", "Config": {"Cmd": ["sh", "-c"]}, "Labels": {"a": "b"}, "N": null, "Num": 5});
            if let Ok(t) = Template::parse(&src) {
                let _ = t.render(&v);
                let _ = t.header(&[("ID", "CONTAINER ID")]);
                let listed = render_all(&src, std::slice::from_ref(&v), &[("ID", "CONTAINER ID")]);
                if src.contains("{{.Bogus") && src.find("}}").is_some_and(|e| e > src.find("{{.Bogus").unwrap_or(usize::MAX)) {
                    proptest::prop_assert!(listed.is_err());
                }
            }
        }
    }

    #[test]
    fn tables_pad_like_tabwriter() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into()],
            vec!["busybox".into(), "latest".into()],
        ]);
        assert_eq!(t, "REPOSITORY   TAG\nbusybox      latest\n");
    }
}

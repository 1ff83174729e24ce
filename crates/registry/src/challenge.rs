//! `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//! `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."` or
//! `Basic realm="..."`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry says it wanted, merged into ours when fetching a token.
        scope: Option<String>,
    },
}

/// The challenge to answer among all `WWW-Authenticate` values, preferring Bearer (what
/// Docker does when a registry offers both). Unknown schemes are skipped.
pub fn pick<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = false;
    for value in values {
        for (scheme, params) in parse(value) {
            if scheme.eq_ignore_ascii_case("bearer") {
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                if let Some(realm) = get("realm").filter(|r| !r.is_empty()) {
                    return Some(Challenge::Bearer {
                        realm,
                        service: get("service"),
                        scope: get("scope").filter(|s| !s.is_empty()),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

type Params = Vec<(String, String)>;

/// Splits one header value into challenges. A header may hold several, comma separated like
/// the parameters, so a new challenge starts at a token that is not followed by `=`.
fn parse(value: &str) -> Vec<(String, Params)> {
    let mut out: Vec<(String, Params)> = Vec::new();
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    loop {
        p.skip(|c| c == b' ' || c == b'\t' || c == b',');
        let token = p.token();
        if token.is_empty() {
            break;
        }
        p.skip(|c| c == b' ' || c == b'\t');
        if p.peek() == Some(b'=') {
            p.i += 1;
            p.skip(|c| c == b' ' || c == b'\t');
            let v = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            match out.last_mut() {
                Some((_, params)) => params.push((token, v)),
                // A parameter before any scheme: not a challenge we can use.
                None => return out,
            }
        } else {
            out.push((token, Vec::new()));
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|c| !matches!(c, b' ' | b'\t' | b',' | b'=' | b'"'));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn quoted(&mut self) -> String {
        self.i += 1;
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        v.push(n);
                        self.i += 1;
                    }
                }
                _ => v.push(c),
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let c = pick([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        ]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
    }

    #[test]
    fn spacing_case_escapes_and_unquoted_values() {
        let c =
            pick([r#"bearer  realm = "http://h/t\"x" , service=svc,error="insufficient_scope""#]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "http://h/t\"x".into(),
                service: Some("svc".into()),
                scope: None,
            })
        );
    }

    #[test]
    fn basic_and_preference() {
        assert_eq!(pick([r#"Basic realm="r""#]), Some(Challenge::Basic));
        assert_eq!(
            pick([r#"Basic realm="r", Bearer realm="t",service="s""#])
                .map(|c| matches!(c, Challenge::Bearer { .. })),
            Some(true)
        );
        assert_eq!(
            pick([r#"Basic realm="r""#, r#"Bearer realm="t""#])
                .map(|c| matches!(c, Challenge::Bearer { .. })),
            Some(true)
        );
    }

    #[test]
    fn unusable_challenges() {
        assert_eq!(pick([]), None);
        assert_eq!(pick(["Negotiate"]), None);
        assert_eq!(pick(["Bearer service=\"x\""]), None);
        assert_eq!(pick(["realm=\"x\""]), None);
        assert_eq!(pick([""]), None);
        assert!(pick(["Bearer realm=\"unterminated"]).is_some());
    }
}

//! Image references as Docker reads them: `busybox` is `docker.io/library/busybox:latest`.
//!
//! The grammar is distribution's: an optional registry (`host[:port]`, or `localhost`), a
//! lowercase path of components joined by `/`, then `:tag` and/or `@digest`.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

pub const DEFAULT_REGISTRY: &str = "docker.io";
const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: {0:?}")]
    Invalid(String),
    #[error("invalid reference format: repository name must be lowercase: {0:?}")]
    Uppercase(String),
    #[error("invalid reference format: name too long ({len} > {MAX_NAME}): {name:?}")]
    TooLong { name: String, len: usize },
    #[error("invalid tag {0:?}: up to 128 of [A-Za-z0-9_.-], not starting with . or -")]
    Tag(String),
    #[error(transparent)]
    Digest(#[from] crate::digest::DigestError),
}

fn domain_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_registry(s: &str) -> bool {
    if let Some(v6) = s.strip_prefix('[') {
        // [ipv6]:port or [ipv6]
        let Some((addr, rest)) = v6.split_once(']') else {
            return false;
        };
        return addr.parse::<std::net::Ipv6Addr>().is_ok()
            && (rest.is_empty() || rest.strip_prefix(':').is_some_and(port));
    }
    let (host, p) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    p.is_none_or(port) && host.split('.').all(domain_component)
}

fn port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn path_component(s: &str) -> bool {
    // alnum (separator alnum)*, separator = "." | "_" | "__" | "-"+
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok || i == start {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TAG
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl Reference {
    /// Parses and normalizes the way `docker pull NAME` does.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let invalid = || ReferenceError::Invalid(s.to_string());
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/' (host:port is not a tag).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Tag(t.to_string()));
            }
        }
        if name.is_empty() {
            return Err(invalid());
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first == "localhost" || first.contains(['.', ':', '[']) => {
                if !is_registry(first) {
                    return Err(invalid());
                }
                // Docker's legacy name for Docker Hub.
                let first = if first == "index.docker.io" {
                    DEFAULT_REGISTRY
                } else {
                    first
                };
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let path = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(s.to_string()));
        }
        if !path.split('/').all(path_component) {
            return Err(invalid());
        }
        let full = registry.len() + 1 + path.len();
        if full > MAX_NAME {
            return Err(ReferenceError::TooLong {
                name: s.chars().take(64).collect(),
                len: full,
            });
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            path,
            tag,
            digest,
        })
    }

    /// `registry/path`, the repository.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The short form Docker prints: `busybox:latest`, `user/app:1`, `host:5000/x:y`.
    pub fn familiar(&self) -> String {
        let name = if self.registry == DEFAULT_REGISTRY {
            self.path
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        };
        self.with_suffix(name)
    }

    fn with_suffix(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_suffix(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_normalization() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/app:dev"), "localhost/app:dev");
        assert_eq!(full("127.0.0.1:5000/a/b:c"), "127.0.0.1:5000/a/b:c");
        assert_eq!(full("[::1]:5000/app"), "[::1]:5000/app:latest");
        assert_eq!(
            full("quay.io/org/some_thing.x-y__z:v1.0-rc"),
            "quay.io/org/some_thing.x-y__z:v1.0-rc"
        );
        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.familiar(), format!("busybox@{d}"));
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("h.io:5000/x:y").unwrap().familiar(),
            "h.io:5000/x:y"
        );
    }

    #[test]
    fn bad_references_name_the_problem() {
        assert!(matches!(
            Reference::parse("Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        for bad in [
            "",
            ":tag",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "host:port/x",
            "a b",
            "ex ample.com/x",
            "a@sha256:zz",
            "x:-tag",
            "x:.tag",
            "[::1/x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} must be refused");
        }
        let long = format!("a/{}", "b".repeat(300));
        assert!(matches!(
            Reference::parse(&long),
            Err(ReferenceError::TooLong { .. })
        ));
        let tag = format!("x:{}", "t".repeat(129));
        assert!(matches!(
            Reference::parse(&tag),
            Err(ReferenceError::Tag(_))
        ));
    }

    #[test]
    fn mutated_references_never_panic() {
        let seed = b"registry.example.com:5000/org/app_name:v1.2@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b":/@.-_[]A0a ";
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut s = seed.to_vec();
            for k in 0..(1 + x % 3) {
                let i = ((x >> (8 * k)) as usize) % (s.len() + 1);
                match (x >> (16 + k)) % 3 {
                    0 if i < s.len() => s[i] = alphabet[(x >> 24) as usize % alphabet.len()],
                    1 => s.truncate(i),
                    _ => s.insert(i, alphabet[(x >> 32) as usize % alphabet.len()]),
                }
            }
            if let Ok(r) = Reference::parse(&String::from_utf8_lossy(&s)) {
                // Whatever parses must print back to something that parses the same.
                assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
            }
        }
    }
}

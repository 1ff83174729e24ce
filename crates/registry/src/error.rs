//! Errors, worded like Docker's where a user sees them, and always naming the URL,
//! repository or digest at fault. Credentials never appear in them.

use std::fmt;
use std::io;

use berth_image::Digest;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry of a registry's error body: `{"errors": [{"code": "MANIFEST_UNKNOWN",
/// "message": "manifest unknown", "detail": ...}]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for ApiError {
    /// Like distribution's `errcode.Error`: `manifest unknown: manifest unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.to_lowercase().replace('_', " ");
        if self.message.is_empty() {
            f.write_str(&code)
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// What a failed response said: the registry's error list if it sent one, else the start
/// of the body, else the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub errors: Vec<ApiError>,
    pub text: String,
}

impl Detail {
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// The first error message, for places that already say what kind of error it is.
    pub fn message(&self) -> Option<&str> {
        self.errors
            .iter()
            .map(|e| e.message.as_str())
            .find(|m| !m.is_empty())
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.is_empty() {
            return f.write_str(&self.text);
        }
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid registry name {0:?}")]
    InvalidRegistry(String),
    #[error("invalid repository name {0:?}")]
    InvalidRepository(String),
    #[error("invalid tag or digest {0:?}")]
    InvalidReference(String),

    /// The request never got an HTTP answer: DNS, connect, TLS, or a dropped connection.
    #[error("{method} \"{url}\": {source}")]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// An insecure registry answered neither over https nor over plain http.
    #[error("registry {registry} is unreachable: {https}; {http}")]
    Unreachable {
        registry: String,
        https: Box<Error>,
        http: Box<Error>,
    },
    /// Reading a response body failed.
    #[error("{method} \"{url}\": reading the response: {source}")]
    Io {
        method: &'static str,
        url: String,
        #[source]
        source: io::Error,
    },

    /// Login failed, or the registry wants credentials we do not have.
    #[error("unauthorized: {message} (registry {registry})")]
    Unauthorized { registry: String, message: String },
    #[error("pull access denied for {repo}, repository does not exist or may require 'docker login': {detail}")]
    PullDenied { repo: String, detail: String },
    #[error("push access denied for {repo}: {detail}")]
    PushDenied { repo: String, detail: String },
    #[error("manifest for {} not found: manifest unknown: {}", join_ref(.repo, .reference), unknown_manifest(.reference))]
    ManifestUnknown { repo: String, reference: String },
    #[error("blob unknown: blob {digest} is not found in {repo}")]
    BlobUnknown { repo: String, digest: Digest },
    #[error("blob {digest} in {repo}: range from byte {offset} not satisfiable")]
    RangeNotSatisfiable {
        repo: String,
        digest: Digest,
        offset: u64,
    },
    /// A 5xx answer.
    #[error("{method} \"{url}\": registry server error {status}: {detail}")]
    Server {
        method: &'static str,
        url: String,
        status: u16,
        detail: Detail,
    },
    /// Any other unexpected status.
    #[error("{method} \"{url}\": unexpected status {status}: {detail}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        detail: Detail,
    },
    /// The registry broke the protocol: a missing `Location`, a wrong `Content-Range`...
    #[error("{method} \"{url}\": {what}")]
    Protocol {
        method: &'static str,
        url: String,
        what: String,
    },
    #[error("token server {realm}: {message}")]
    Token { realm: String, message: String },

    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: Digest,
    },
    #[error("manifest {what} is larger than {limit} bytes")]
    ManifestTooLarge { what: String, limit: u64 },

    /// The caller's reader failed while a blob was being pushed.
    #[error("reading blob {digest} to push it: {source}")]
    Source {
        digest: Digest,
        #[source]
        source: io::Error,
    },
    #[error("blob {digest}: the data to push ended after {read} of {size} bytes")]
    ShortSource {
        digest: Digest,
        read: u64,
        size: u64,
    },
}

fn join_ref(repo: &str, reference: &str) -> String {
    if reference.contains(':') {
        format!("{repo}@{reference}")
    } else {
        format!("{repo}:{reference}")
    }
}

fn unknown_manifest(reference: &str) -> String {
    if reference.contains(':') {
        format!("manifest {reference} is not found")
    } else {
        format!("manifest tagged by \"{reference}\" is not found")
    }
}

impl Error {
    /// The HTTP status behind the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Server { status, .. } | Error::Status { status, .. } => Some(*status),
            Error::ManifestUnknown { .. } | Error::BlobUnknown { .. } => Some(404),
            Error::RangeNotSatisfiable { .. } => Some(416),
            _ => None,
        }
    }

    /// Whether trying again later might work: connection trouble, 5xx, 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Io { .. } | Error::Server { .. } => true,
            Error::Unreachable { .. } => true,
            Error::Status { status, .. } => *status == 429 || *status == 408,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_like_messages() {
        let e = Error::ManifestUnknown {
            repo: "busybox".into(),
            reference: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "manifest for busybox:x not found: manifest unknown: manifest tagged by \"x\" is not found"
        );
        let d = Digest::of(b"");
        let e = Error::ManifestUnknown {
            repo: "h:5000/a".into(),
            reference: d.to_string(),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "manifest for h:5000/a@{d} not found: manifest unknown: manifest {d} is not found"
            )
        );
        let e = Error::PullDenied {
            repo: "busybox".into(),
            detail: "denied: requested access to the resource is denied".into(),
        };
        assert!(e
            .to_string()
            .starts_with("pull access denied for busybox, repository does not exist or may require 'docker login'"));
        let detail = Detail {
            errors: vec![
                ApiError {
                    code: "NAME_UNKNOWN".into(),
                    message: "repository name not known to registry".into(),
                },
                ApiError {
                    code: "DENIED".into(),
                    message: String::new(),
                },
            ],
            text: String::new(),
        };
        assert_eq!(
            detail.to_string(),
            "name unknown: repository name not known to registry; denied"
        );
    }
}

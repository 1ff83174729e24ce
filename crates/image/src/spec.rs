//! The JSON documents images are made of: manifests, indexes and image configs, in both the
//! OCI and the Docker schema2 dialects (they share one shape and differ in media types).
//!
//! Fields berth does not interpret are kept in `extra` maps, so that a document read and
//! written again loses nothing, and so that `image inspect` can show what the image carries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Upper bound for any JSON document of an image (manifests, indexes, configs).
pub const MAX_DOCUMENT: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("invalid {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    #[error("unsupported manifest schema version {0} (only schema 2 manifests are supported)")]
    Schema(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Platform {
    /// The platform this berth runs on, in Go's GOARCH spelling.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            architecture: architecture.into(),
            os: "linux".into(),
            variant: (architecture == "arm64").then(|| "v8".to_string()),
            os_version: None,
        }
    }

    /// Parses `os/arch[/variant]` as `--platform` takes it.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next().filter(|p| !p.is_empty())?;
        let arch = it.next().filter(|p| !p.is_empty())?;
        let variant = it.next().map(str::to_string);
        if it.next().is_some() {
            return None;
        }
        let arch = match arch {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        Some(Platform {
            architecture: arch.into(),
            os: os.into(),
            variant,
            os_version: None,
        })
    }

    /// Whether an index entry for `other` can run here when `self` was asked for; a missing
    /// variant on either side matches any.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    /// A plain descriptor: no platform, annotations or URLs.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            annotations: None,
            urls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// A schema 2 manifest of `media_type` (OCI's or Docker's).
    pub fn new(media_type: &str, config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(media_type.into()),
            config,
            layers,
            annotations: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What a manifest-ish document turned out to be. (Parsed once per image, so the size
/// difference between the variants costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, bytes: &'a [u8]) -> Result<T, SpecError> {
    serde_json::from_slice(bytes).map_err(|source| SpecError::Json { what, source })
}

/// Parses a manifest or an index. The media type comes from the transport (a registry's
/// Content-Type, a descriptor) when known, else from the document's own `mediaType`, else
/// from its shape (OCI allows leaving it out).
pub fn parse_document(bytes: &[u8], media_type: Option<&str>) -> Result<Document, SpecError> {
    let v: Value = json("manifest", bytes)?;
    let declared = v.get("mediaType").and_then(Value::as_str);
    let mt = media_type
        .filter(|m| !m.is_empty() && *m != "application/json" && *m != "text/plain")
        .or(declared);
    let schema = v.get("schemaVersion").and_then(Value::as_u64).unwrap_or(0);
    if schema != 2 {
        return Err(SpecError::Schema(schema as u32));
    }
    match mt {
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => Ok(Document::Manifest(json("manifest", bytes)?)),
        Some(OCI_INDEX | DOCKER_LIST) => Ok(Document::Index(json("index", bytes)?)),
        Some(other) => Err(SpecError::MediaType(other.into())),
        None if v.get("manifests").is_some() => Ok(Document::Index(json("index", bytes)?)),
        None => Ok(Document::Manifest(json("manifest", bytes)?)),
    }
}

/// The part of an image config a container is made from (`config` in the JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl RunConfig {
    /// The `Healthcheck`, typed; None when absent or not Docker's shape.
    pub fn health_config(&self) -> Option<HealthConfig> {
        self.healthcheck
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    pub fn set_health_config(&mut self, h: Option<&HealthConfig>) {
        self.healthcheck = h.and_then(|h| serde_json::to_value(h).ok());
    }
}

/// Docker's `HealthConfig` (the `Healthcheck` of an image or container config). `Test` is
/// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`; empty inherits. Durations
/// are nanoseconds, and zero (like `Retries` zero) means "inherit, or Docker's default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn null_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image config (`application/vnd.oci.image.config.v1+json` or Docker's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, SpecError> {
        json("image config", bytes)
    }

    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: None,
        }
    }
}

/// Picks the manifest for `want` from an index: an exact variant match wins over an entry
/// that leaves the variant out.
pub fn select<'a>(index: &'a Index, want: &Platform) -> Option<&'a Descriptor> {
    let candidates = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)));
    let mut best: Option<&Descriptor> = None;
    for d in candidates {
        let exact = d.platform.as_ref().and_then(|p| p.variant.as_ref()) == want.variant.as_ref();
        if best.is_none() || exact {
            best = Some(d);
            if exact {
                break;
            }
        }
    }
    best
}

/// The identifier of a stack of layers (OCI "ChainID"): the first layer's diffID, then
/// `sha256(parent + " " + diffID)` for each layer on top.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let ids = chain_ids(&[d('a'), d('b')]);
        assert_eq!(ids[0], d('a'));
        assert_eq!(
            ids[1],
            Digest::of(format!("{} {}", d('a'), d('b')).as_bytes())
        );
    }

    #[test]
    fn platform_selection_prefers_the_exact_variant() {
        let entry = |arch: &str, variant: Option<&str>, c| Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: d(c),
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(Into::into),
                os_version: None,
            }),
            annotations: None,
            urls: None,
        };
        let idx = Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![
                entry("arm", Some("v6"), 'a'),
                entry("arm", Some("v7"), 'b'),
                entry("amd64", None, 'c'),
            ],
            annotations: None,
        };
        let pick = |s| select(&idx, &Platform::parse(s).unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/arm/v7"), Some(d('b')));
        assert_eq!(pick("linux/x86_64"), Some(d('c')));
        assert_eq!(pick("linux/s390x"), None);
        assert!(Platform::parse("linux").is_none());
    }

    #[test]
    fn documents_by_media_type_or_shape() {
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":2}},"layers":[]}}"#,
            d('a')
        );
        assert!(matches!(
            parse_document(m.as_bytes(), None).unwrap(),
            Document::Manifest(_)
        ));
        let i = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_document(i.as_bytes(), None).unwrap(),
            Document::Index(_)
        ));
        let e = parse_document(br#"{"schemaVersion":1}"#, None).unwrap_err();
        assert!(e.to_string().contains("schema version 1"), "{e}");
        let e = parse_document(i.as_bytes(), Some("application/x-nope")).unwrap_err();
        assert!(e.to_string().contains("x-nope"), "{e}");
    }

    #[test]
    fn configs_keep_unknown_fields() {
        let c = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Foo":1},"rootfs":{"type":"layers","diff_ids":[]},"zzz":true}"#;
        let cfg = ImageConfig::parse(c).unwrap();
        assert_eq!(cfg.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
        let back = serde_json::to_value(&cfg).unwrap();
        assert_eq!(back["zzz"], true);
        assert_eq!(back["config"]["Foo"], 1);
    }
}

//! Registry credentials and Docker's client config file (`~/.docker/config.json`), where
//! `docker login` keeps them: `{"auths": {"https://index.docker.io/v1/": {"auth": "<base64
//! user:pass>"}, "host:5000": {...}}}`. berth reads and writes the same file so logins are
//! shared with the docker CLI. Other keys of the file are kept as they are.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use crate::base64;

/// The key `docker login` uses for Docker Hub, whatever name the user gave it.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or personal access token). Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// `user:pass` in base64: the config file's `auth` and the Basic authorization value.
    pub(crate) fn encoded(&self) -> String {
        base64::encode(format!("{}:{}", self.username, self.password).as_bytes())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot locate the docker config file: neither DOCKER_CONFIG nor HOME is set")]
    NoHome,
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: invalid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {what}")]
    Malformed { path: PathBuf, what: String },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path}: credentials for {registry} are kept by the credential helper \
         \"docker-credential-{helper}\" ({key}), which berth does not support yet"
    )]
    CredentialHelper {
        path: PathBuf,
        registry: String,
        helper: String,
        /// `credsStore` or `credHelpers`.
        key: &'static str,
    },
    #[error(
        "{path}: the login for {registry} is an identity token, which berth does not \
         support yet; log in again with a user name and password"
    )]
    IdentityToken { path: PathBuf, registry: String },
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`, like the docker CLI.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".docker").join("config.json")),
        None => Err(ConfigError::NoHome),
    }
}

/// The `auths` key `docker login REGISTRY` writes.
pub fn config_key(registry: &str) -> String {
    if is_docker_hub(registry) {
        DOCKER_HUB_CONFIG_KEY.to_string()
    } else {
        registry.to_string()
    }
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// Docker's `ConvertToHostname`: keys written by old clients or by hand may carry a scheme
/// and a path (`https://host:5000/v1/`); they name the same registry as `host:5000`.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn same_registry(key: &str, registry: &str) -> bool {
    let host = key_host(key);
    host == registry || (is_docker_hub(host) && is_docker_hub(registry))
}

/// The docker CLI's config file, loaded whole so that saving keeps what berth does not use.
pub struct DockerConfig {
    path: PathBuf,
    root: Map<String, Value>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The file holds secrets; the path is all a log needs.
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DockerConfig {
    /// Loads `path`; a missing or empty file is an empty config.
    pub fn load(path: impl Into<PathBuf>) -> Result<DockerConfig, ConfigError> {
        let path = path.into();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let root = if text.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(ConfigError::Malformed {
                        path,
                        what: "not a JSON object".into(),
                    })
                }
                Err(source) => return Err(ConfigError::Parse { path, source }),
            }
        };
        let config = DockerConfig { path, root };
        for key in ["auths", "credHelpers"] {
            if config.root.get(key).is_some_and(|v| !v.is_object()) {
                return Err(config.malformed(format!("{key:?} is not an object")));
            }
        }
        if config
            .root
            .get("credsStore")
            .is_some_and(|v| !v.is_string())
        {
            return Err(config.malformed("\"credsStore\" is not a string".into()));
        }
        Ok(config)
    }

    /// Loads the file at [`default_config_path`].
    pub fn load_default() -> Result<DockerConfig, ConfigError> {
        DockerConfig::load(default_config_path()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn malformed(&self, what: String) -> ConfigError {
        ConfigError::Malformed {
            path: self.path.clone(),
            what,
        }
    }

    /// The credential helper in charge of `registry`, if any: a `credHelpers` entry, else
    /// `credsStore`. They are refused rather than skipped: falling back to `auths` would
    /// use stale or missing credentials without saying why.
    fn check_helpers(&self, registry: &str) -> Result<(), ConfigError> {
        let helper = |helper: &str, key| ConfigError::CredentialHelper {
            path: self.path.clone(),
            registry: registry.to_string(),
            helper: helper.to_string(),
            key,
        };
        if let Some(Value::Object(helpers)) = self.root.get("credHelpers") {
            for (k, v) in helpers {
                if same_registry(k, registry) {
                    if let Some(h) = v.as_str().filter(|h| !h.is_empty()) {
                        return Err(helper(h, "credHelpers"));
                    }
                }
            }
        }
        match self.root.get("credsStore").and_then(Value::as_str) {
            Some(h) if !h.is_empty() => Err(helper(h, "credsStore")),
            _ => Ok(()),
        }
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.root.get("auths").and_then(Value::as_object)
    }

    /// The saved login for `registry` (`docker.io`, `host:5000`, ...), `None` for anonymous.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, ConfigError> {
        self.check_helpers(registry)?;
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let exact = config_key(registry);
        let entry = auths.get(&exact).map(|v| (exact.as_str(), v)).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| same_registry(k, registry))
                .map(|(k, v)| (k.as_str(), v))
        });
        let Some((key, entry)) = entry else {
            return Ok(None);
        };
        let Some(entry) = entry.as_object() else {
            return Err(self.malformed(format!("auths[{key:?}] is not an object")));
        };
        let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("");
        if !field("auth").is_empty() {
            let bad = || {
                self.malformed(format!(
                    "auths[{key:?}].auth is not base64 of user:password"
                ))
            };
            let decoded = base64::decode(field("auth").trim()).ok_or_else(bad)?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (user, pass) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Some(Credentials::new(user, pass)));
        }
        if !field("identitytoken").is_empty() {
            return Err(ConfigError::IdentityToken {
                path: self.path.clone(),
                registry: registry.to_string(),
            });
        }
        if !field("username").is_empty() {
            return Ok(Some(Credentials::new(field("username"), field("password"))));
        }
        Ok(None)
    }

    /// Records a login, as `docker login` does: the entry under [`config_key`] becomes
    /// `{"auth": ...}` and other entries naming the same registry are dropped.
    pub fn set_credentials(
        &mut self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<(), ConfigError> {
        self.check_helpers(registry)?;
        self.remove_entries(registry);
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(credentials.encoded()));
        self.root
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("load checks that auths is an object")
            .insert(config_key(registry), Value::Object(entry));
        Ok(())
    }

    /// Forgets the login for `registry`; `false` if there was none.
    pub fn remove_credentials(&mut self, registry: &str) -> Result<bool, ConfigError> {
        self.check_helpers(registry)?;
        Ok(self.remove_entries(registry))
    }

    fn remove_entries(&mut self, registry: &str) -> bool {
        let Some(Value::Object(auths)) = self.root.get_mut("auths") else {
            return false;
        };
        let before = auths.len();
        auths.retain(|k, _| !same_registry(k, registry));
        auths.len() != before
    }

    /// Writes the file atomically (temporary file, fsync, rename) with mode 0600. A config
    /// path that is a symlink (dotfile managers) is written through to its target.
    pub fn save(&self) -> Result<(), ConfigError> {
        let target = match fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone())
            }
            _ => self.path.clone(),
        };
        let err = |source| ConfigError::Write {
            path: target.clone(),
            source,
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(err)?;
        let mut text = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut text,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        serde::Serialize::serialize(&self.root, &mut ser).map_err(|e| err(e.into()))?;
        text.push(b'\n');

        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)?;
            // The rename is durable once the directory is; failing that is not worth an error.
            if let Ok(d) = fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            err(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("config.json");
        fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn missing_or_empty_file_is_anonymous() {
        let d = tempfile::tempdir().unwrap();
        let c = DockerConfig::load(d.path().join("nope.json")).unwrap();
        assert_eq!(c.credentials("docker.io").unwrap(), None);
        let c = DockerConfig::load(write(d.path(), "\n")).unwrap();
        assert_eq!(c.credentials("localhost:5000").unwrap(), None);
    }

    #[test]
    fn reads_docker_written_entries() {
        let d = tempfile::tempdir().unwrap();
        let hub = base64::encode(b"hubuser:hub:pass");
        let local = base64::encode(b"u:p");
        let p = write(
            d.path(),
            &format!(
                r#"{{"auths": {{
                    "https://index.docker.io/v1/": {{"auth": "{hub}"}},
                    "http://127.0.0.1:5000/v2/": {{"auth": "{local}"}},
                    "plain.example": {{"username": "a", "password": "b"}},
                    "empty.example": {{}}
                }}}}"#
            ),
        )
        .to_path_buf();
        let c = DockerConfig::load(&p).unwrap();
        let hubc = Credentials::new("hubuser", "hub:pass");
        assert_eq!(c.credentials("docker.io").unwrap(), Some(hubc.clone()));
        assert_eq!(c.credentials("index.docker.io").unwrap(), Some(hubc));
        assert_eq!(
            c.credentials("127.0.0.1:5000").unwrap(),
            Some(Credentials::new("u", "p"))
        );
        assert_eq!(
            c.credentials("plain.example").unwrap(),
            Some(Credentials::new("a", "b"))
        );
        assert_eq!(c.credentials("empty.example").unwrap(), None);
        assert_eq!(c.credentials("127.0.0.1:5001").unwrap(), None);
    }

    #[test]
    fn login_keeps_other_keys_and_is_private() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            r#"{"auths": {"other:1": {"auth": "eDp5"}}, "psFormat": "table {{.ID}}", "proxies": {"default": {"httpProxy": "http://p:3128"}}}"#,
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = DockerConfig::load(&p).unwrap();
        c.set_credentials("docker.io", &Credentials::new("me", "secret"))
            .unwrap();
        c.set_credentials("localhost:5000", &Credentials::new("l", "pw"))
            .unwrap();
        c.save().unwrap();

        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(v["proxies"]["default"]["httpProxy"], "http://p:3128");
        assert_eq!(v["auths"]["other:1"]["auth"], "eDp5");
        assert_eq!(
            v["auths"][DOCKER_HUB_CONFIG_KEY]["auth"],
            base64::encode(b"me:secret")
        );
        let c = DockerConfig::load(&p).unwrap();
        assert_eq!(
            c.credentials("docker.io").unwrap(),
            Some(Credentials::new("me", "secret"))
        );
        assert_eq!(
            c.credentials("localhost:5000").unwrap(),
            Some(Credentials::new("l", "pw"))
        );
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn login_creates_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/.docker/config.json");
        let mut c = DockerConfig::load(&p).unwrap();
        c.set_credentials("h:1", &Credentials::new("u", "p"))
            .unwrap();
        c.save().unwrap();
        let mode = fs::metadata(p.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            DockerConfig::load(&p).unwrap().credentials("h:1").unwrap(),
            Some(Credentials::new("u", "p"))
        );
    }

    #[test]
    fn relogin_replaces_aliases_and_logout_removes() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            r#"{"auths": {"https://h:5000": {"auth": "eDp5"}, "keep:1": {"auth": "eDp5"}}}"#,
        );
        let mut c = DockerConfig::load(&p).unwrap();
        c.set_credentials("h:5000", &Credentials::new("n", "m"))
            .unwrap();
        let mut keys: Vec<_> = c.auths().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["h:5000", "keep:1"]);
        assert!(c.remove_credentials("h:5000").unwrap());
        assert!(!c.remove_credentials("h:5000").unwrap());
        c.save().unwrap();
        let c = DockerConfig::load(&p).unwrap();
        assert_eq!(c.credentials("h:5000").unwrap(), None);
        assert!(c.credentials("keep:1").unwrap().is_some());
    }

    #[test]
    fn save_writes_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.json");
        fs::write(&real, "{}").unwrap();
        let link = d.path().join("config.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut c = DockerConfig::load(&link).unwrap();
        c.set_credentials("h:1", &Credentials::new("u", "p"))
            .unwrap();
        c.save().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::read_to_string(&real).unwrap().contains("h:1"));
    }

    #[test]
    fn credential_helpers_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            r#"{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}"#,
        );
        let mut c = DockerConfig::load(&p).unwrap();
        let e = c.credentials("docker.io").unwrap_err();
        assert!(matches!(
            e,
            ConfigError::CredentialHelper {
                key: "credsStore",
                ..
            }
        ));
        assert!(e.to_string().contains("docker-credential-desktop"), "{e}");
        assert!(c
            .set_credentials("docker.io", &Credentials::new("u", "p"))
            .is_err());
        assert!(c.remove_credentials("docker.io").is_err());

        let p = write(
            d.path(),
            r#"{"credHelpers": {"gcr.io": "gcloud"}, "auths": {"h:1": {"auth": "eDp5"}}}"#,
        );
        let c = DockerConfig::load(&p).unwrap();
        let e = c.credentials("gcr.io").unwrap_err();
        assert!(e.to_string().contains("docker-credential-gcloud"), "{e}");
        assert!(e.to_string().contains("gcr.io"), "{e}");
        assert_eq!(
            c.credentials("h:1").unwrap(),
            Some(Credentials::new("x", "y"))
        );
    }

    #[test]
    fn identity_tokens_and_malformed_files_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), r#"{"auths": {"h:1": {"identitytoken": "t"}}}"#);
        assert!(matches!(
            DockerConfig::load(&p).unwrap().credentials("h:1"),
            Err(ConfigError::IdentityToken { .. })
        ));
        let p = write(d.path(), r#"{"auths": {"h:1": {"auth": "!!"}}}"#);
        let e = DockerConfig::load(&p)
            .unwrap()
            .credentials("h:1")
            .unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        let p = write(d.path(), r#"{"auths": {"h:1": {"auth": "bm9jb2xvbg=="}}}"#);
        assert!(DockerConfig::load(&p).unwrap().credentials("h:1").is_err());
        for bad in ["[]", "{", r#"{"auths": []}"#, r#"{"credsStore": 1}"#] {
            let p = write(d.path(), bad);
            assert!(DockerConfig::load(&p).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new("user", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            &format!(r#"{{"auths": {{"h:1": {{"auth": "{}"}}}}}}"#, c.encoded()),
        );
        let cfg = DockerConfig::load(&p).unwrap();
        assert!(!format!("{cfg:?}").contains(&c.encoded()));
    }
}

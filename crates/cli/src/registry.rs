//! Registry commands: pull, push, login, logout.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use berth_image::spec::Platform;
use berth_image::{Reference, Store};
use berth_registry::auth::{config_key, ConfigError, Credentials, DockerConfig};
use berth_registry::pull::{self, Event, Progress, PullOptions, Silent};
use berth_registry::{push, Client, ClientOptions};

use crate::args::{self, flag, opt, Flag, Matches};
use crate::{Failure, Globals, Result};

fn parse(cmd: &str, flags: &[Flag], argv: &[String]) -> Result<Matches> {
    args::parse(flags, argv, true).map_err(|e| Failure::usage(cmd, e))
}

/// The saved login for `registry`, if any. A credential helper in the config is not
/// supported yet: say so and go on anonymously rather than fail a public pull.
fn credentials(registry: &str) -> Result<Option<Credentials>> {
    let cfg = match DockerConfig::load_default() {
        Ok(c) => c,
        Err(ConfigError::NoHome) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match cfg.credentials(registry) {
        Ok(c) => Ok(c),
        Err(e @ (ConfigError::CredentialHelper { .. } | ConfigError::IdentityToken { .. })) => {
            eprintln!("WARNING: {e}; continuing without credentials");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn tls_verify(m: &Matches) -> bool {
    m.get("tls-verify") != Some("false")
}

fn client(registry: &str, verify: bool) -> Result<Arc<Client>> {
    let opts = ClientOptions {
        insecure: !verify,
        credentials: credentials(registry)?,
        user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        ..ClientOptions::default()
    };
    Ok(Arc::new(Client::new(registry, opts)?))
}

/// Docker's line-per-event output, for when stdout is not a terminal.
struct Lines;
impl Progress for Lines {
    fn event(&self, e: Event) {
        let line = match e {
            Event::Resolved { tag, repo } => format!(
                "{tag}: Pulling from {}",
                repo.strip_prefix("docker.io/").unwrap_or(&repo)
            ),
            Event::Waiting { id } => format!("{id}: Pulling fs layer"),
            Event::Exists { id } => format!("{id}: Already exists"),
            Event::Downloaded { id } => format!("{id}: Download complete"),
            Event::Extracted { id } => format!("{id}: Pull complete"),
            Event::Retrying { id, offset, error } => {
                format!("{id}: Retrying from byte {offset} ({error})")
            }
            Event::Progress { .. } => return,
        };
        println!("{line}");
    }
}

/// Bars per layer (indicatif), for a terminal.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<HashMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }
    fn bar(&self, id: &str) -> indicatif::ProgressBar {
        let Ok(mut bars) = self.bars.lock() else {
            return indicatif::ProgressBar::hidden();
        };
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(indicatif::ProgressBar::new(0));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b.set_prefix(id.to_string());
                b
            })
            .clone()
    }
}

impl Progress for Bars {
    fn event(&self, e: Event) {
        match e {
            Event::Resolved { tag, repo } => {
                let _ = self.multi.println(format!(
                    "{tag}: Pulling from {}",
                    repo.strip_prefix("docker.io/").unwrap_or(&repo)
                ));
            }
            Event::Waiting { id } => self.bar(&id).set_message("Waiting"),
            Event::Exists { id } => self.bar(&id).finish_with_message("Already exists"),
            Event::Progress { id, done, total } => {
                let b = self.bar(&id);
                b.set_length(total);
                b.set_position(done);
                b.set_message("Downloading");
            }
            Event::Downloaded { id } => self.bar(&id).set_message("Extracting"),
            Event::Extracted { id } => self.bar(&id).finish_with_message("Pull complete"),
            Event::Retrying { id, offset, .. } => {
                self.bar(&id).set_message(format!("Retrying at {offset}"))
            }
        }
    }
}

fn progress(quiet: bool) -> Arc<dyn Progress> {
    if quiet {
        Arc::new(Silent)
    } else if std::io::stdout().is_terminal() {
        Arc::new(Bars::new())
    } else {
        Arc::new(Lines)
    }
}

pub fn pull_cmd(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            flag("quiet", Some('q')),
            opt("platform", None),
            opt("tls-verify", None),
            flag("all-tags", Some('a')),
            flag("disable-content-trust", None),
        ],
        argv,
    )?;
    if m.args.len() != 1 {
        return Err(Failure::usage(
            cmd,
            format!("\"berth {cmd}\" requires exactly 1 argument."),
        ));
    }
    if m.on("all-tags") {
        return Err(Failure::new(1, "--all-tags is not supported yet"));
    }
    let name = &m.args[0];
    let reference = Reference::parse(name)?;
    let platform = m
        .get("platform")
        .map(|p| {
            Platform::parse(p).ok_or_else(|| {
                Failure::new(1, format!("invalid platform {p:?}: want os/arch[/variant]"))
            })
        })
        .transpose()?;
    let quiet = m.on("quiet");
    if !quiet && reference.digest.is_none() && !name.contains(':') {
        println!("Using default tag: latest");
    }
    let mut store = Store::open(&g.root)?;
    let c = client(&reference.registry, tls_verify(&m))?;
    let opts = PullOptions {
        platform,
        ..PullOptions::default()
    };
    let pulled = pull::pull(&mut store, c, &reference, &opts, progress(quiet))?;
    if !quiet {
        println!("Digest: {}", pulled.digest);
        let fam = reference.familiar();
        if pulled.up_to_date {
            println!("Status: Image is up to date for {fam}");
        } else {
            println!("Status: Downloaded newer image for {fam}");
        }
    }
    println!("{reference}");
    Ok(())
}

/// A pull for `run --pull` and `create`: Docker's progress lines on stderr-free stdout are
/// not wanted there, only the outcome.
pub fn pull_quiet(g: &Globals, name: &str, platform: Option<Platform>) -> Result<()> {
    let reference = Reference::parse(name)?;
    let mut store = Store::open(&g.root)?;
    let c = client(&reference.registry, true)?;
    let opts = PullOptions {
        platform,
        ..PullOptions::default()
    };
    pull::pull(&mut store, c, &reference, &opts, Arc::new(Silent))?;
    Ok(())
}

pub fn push_cmd(g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            flag("quiet", Some('q')),
            opt("tls-verify", None),
            flag("all-tags", Some('a')),
            flag("disable-content-trust", None),
        ],
        argv,
    )?;
    if m.args.len() != 1 {
        return Err(Failure::usage(
            cmd,
            format!("\"berth {cmd}\" requires exactly 1 argument."),
        ));
    }
    let reference = Reference::parse(&m.args[0])?;
    let mut store = Store::open(&g.root)?;
    let image = store.resolve(&m.args[0]).map_err(|_| {
        Failure::new(
            1,
            format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar().split(':').next().unwrap_or_default()
            ),
        )
    })?;
    let quiet = m.on("quiet");
    if !quiet {
        println!("The push refers to repository [{}]", reference.name());
    }
    let c = client(&reference.registry, tls_verify(&m))?;
    struct PushLines;
    impl Progress for PushLines {
        fn event(&self, e: Event) {
            match e {
                Event::Exists { id } => println!("{id}: Layer already exists"),
                Event::Downloaded { id } => println!("{id}: Pushed"),
                _ => {}
            }
        }
    }
    let p: Arc<dyn Progress> = if quiet {
        Arc::new(Silent)
    } else {
        Arc::new(PushLines)
    };
    let pushed = push::push(&mut store, c, &image, &reference, p)?;
    if quiet {
        println!("{reference}");
    } else {
        println!(
            "{}: digest: {} size: {}",
            pushed.tag, pushed.digest, pushed.size
        );
    }
    Ok(())
}

/// Docker's default server for login/logout.
fn server_of(arg: Option<&String>) -> String {
    match arg.map(|s| {
        s.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
    }) {
        None
        | Some("docker.io")
        | Some("index.docker.io")
        | Some("registry-1.docker.io")
        | Some("index.docker.io/v1") => "docker.io".into(),
        Some(s) => s.to_string(),
    }
}

fn read_line(prompt: &str, echo: bool) -> Result<String> {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    let saved = if echo {
        None
    } else {
        nix::sys::termios::tcgetattr(&stdin).ok().inspect(|t| {
            let mut t2 = t.clone();
            t2.local_flags.remove(nix::sys::termios::LocalFlags::ECHO);
            let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &t2);
        })
    };
    let mut line = String::new();
    let res = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &t);
        println!();
    }
    res.map_err(|e| {
        Failure::new(
            1,
            format!(
                "reading the {}: {e}",
                prompt.trim_end_matches(": ").to_lowercase()
            ),
        )
    })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login_cmd(_g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(
        cmd,
        &[
            opt("username", Some('u')),
            opt("password", Some('p')),
            flag("password-stdin", None),
            opt("tls-verify", None),
        ],
        argv,
    )?;
    if m.args.len() > 1 {
        return Err(Failure::usage(
            cmd,
            "\"berth login\" requires at most 1 argument.",
        ));
    }
    let server = server_of(m.args.first());
    let tty = std::io::stdin().is_terminal();
    let password = if m.on("password-stdin") {
        if m.get("password").is_some() {
            return Err(Failure::new(
                1,
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        if m.get("username").is_none() {
            return Err(Failure::new(
                1,
                "Must provide --username with --password-stdin",
            ));
        }
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
            .map_err(|e| Failure::new(1, format!("reading the password from stdin: {e}")))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = m.get("password") {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.to_string()
    } else if tty {
        String::new()
    } else {
        return Err(Failure::new(
            1,
            "Cannot perform an interactive login from a non TTY device",
        ));
    };
    let username = match m.get("username") {
        Some(u) => u.to_string(),
        None => read_line("Username: ", true)?,
    };
    let password = if password.is_empty() {
        read_line("Password: ", false)?
    } else {
        password
    };
    if username.is_empty() {
        return Err(Failure::new(1, "Error: Non-null Username Required"));
    }
    let creds = Credentials::new(username, password);
    let opts = ClientOptions {
        insecure: !tls_verify(&m),
        credentials: Some(creds.clone()),
        user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        ..ClientOptions::default()
    };
    Client::new(&server, opts)?.ping()?;
    let mut cfg = DockerConfig::load_default()?;
    cfg.set_credentials(&server, &creds)?;
    cfg.save()?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        cfg.path().display()
    );
    println!("Login Succeeded");
    Ok(())
}

pub fn logout_cmd(_g: &Globals, cmd: &str, argv: &[String]) -> Result<()> {
    let m = parse(cmd, &[], argv)?;
    if m.args.len() > 1 {
        return Err(Failure::usage(
            cmd,
            "\"berth logout\" requires at most 1 argument.",
        ));
    }
    let server = server_of(m.args.first());
    let mut cfg = DockerConfig::load_default()?;
    let key = config_key(&server);
    if cfg.remove_credentials(&server)? {
        cfg.save()?;
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(())
}

//! `berth`: the docker-compatible command line. It parses arguments, calls the libraries and
//! prints; the work is done in berth-image (and, later, the engine).

mod args;
mod attach;
mod containers;
mod cp;
mod format;
mod images;
mod networks;
mod objects;
mod registry;
mod signals;
mod stats;
mod system;
mod update;
mod volumes;

use std::io::Write;
use std::path::PathBuf;

use args::{flag, opt, Flag};

/// An error with the exit status docker would give it.
#[derive(Debug)]
pub struct Failure {
    pub status: i32,
    pub message: String,
    /// The command, for "See 'berth CMD --help'." after usage errors.
    pub usage_of: Option<String>,
    /// Printed as it is, without "Error: " (docker's "Error response from daemon: ...").
    pub raw: bool,
}

impl Failure {
    pub fn new(status: i32, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            usage_of: None,
            raw: false,
        }
    }
    pub fn usage(cmd: &str, message: impl Into<String>) -> Failure {
        Failure {
            status: 125,
            message: message.into(),
            usage_of: Some(cmd.to_string()),
            raw: false,
        }
    }
    /// An error from the engine, worded as docker words the daemon's.
    pub fn daemon(mut self) -> Failure {
        self.message = format!("Error response from daemon: {}", self.message);
        self.raw = true;
        self
    }
}

/// Library errors are reported the way the docker CLI reports daemon errors, exit 1.
impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        let mut msg = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            let t = s.to_string();
            if !msg.contains(&t) {
                msg.push_str(": ");
                msg.push_str(&t);
            }
            src = s.source();
        }
        Failure::new(1, msg)
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

pub struct Globals {
    pub root: PathBuf,
}

const GLOBAL: &[Flag] = &[
    opt("root", None),
    flag("debug", Some('D')),
    opt("log-level", Some('l')),
    flag("version", Some('v')),
    flag("help", Some('h')),
];

const USAGE: &str = "Usage:  berth [OPTIONS] COMMAND

A container engine that speaks docker's language.

Options:
      --root string   Root of berth's state (default \"/var/lib/berth\", or $BERTH_ROOT)
  -D, --debug         Enable debug mode
  -v, --version       Print version information and quit

Container commands:
  run         Create and run a new container from an image
  create      Create a new container
  start       Start one or more stopped containers
  ps          List containers
  logs        Fetch the logs of a container
  stop        Stop one or more running containers
  restart     Restart one or more containers
  kill        Kill one or more running containers
  rm          Remove one or more containers
  wait        Block until one or more containers stop, then print their exit codes
  attach      Attach local standard input, output, and error streams to a running container
  exec        Execute a command in a running container
  pause       Pause all processes within one or more containers
  unpause     Unpause all processes within one or more containers
  rename      Rename a container
  inspect     Return low-level information on containers and images
  top         Display the running processes of a container
  commit      Create a new image from a container's changes
  export      Export a container's filesystem as a tar archive
  diff        Inspect changes to files or directories on a container's filesystem
  port        List port mappings for the container
  cp          Copy files/folders between a container and the local filesystem
  update      Update configuration of one or more containers
  stats       Display a live stream of container(s) resource usage statistics
  container prune   Remove all stopped containers

Image commands:
  pull        Download an image from a registry
  push        Upload an image to a registry
  login       Log in to a registry
  logout      Log out from a registry
  images      List images
  import      Import the contents from a tarball to create a filesystem image
  load        Load an image from a tar archive or STDIN
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  rmi         Remove one or more images
  history     Show the history of an image
  inspect     Return low-level information on berth objects
  image       Manage images (ls, rm, inspect, prune, history, tag, load, save, import)
  system      Manage berth (df, prune)
  volume      Manage volumes (create, ls, inspect, rm, prune)
  network     Manage networks (create, ls, inspect, rm, prune, connect, disconnect)
  system      Manage berth (df, prune, info)
  info        Display system-wide information
  version     Show the berth version information
";

fn split_globals(argv: &[String]) -> (Vec<String>, Vec<String>) {
    // Global flags come before the command; a value-taking one consumes the next word.
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with('-') && argv[i] != "-" {
        let takes = |a: &str| matches!(a, "--root" | "--log-level" | "-l");
        if takes(&argv[i]) {
            i += 1;
        }
        i += 1;
    }
    let i = i.min(argv.len());
    (argv[..i].to_vec(), argv[i..].to_vec())
}

fn run(argv: Vec<String>) -> Result<()> {
    // The per-container monitor (started by run/start, never by hand).
    if argv.first().map(String::as_str) == Some("__monitor") && argv.len() == 3 {
        // CVE-2019-5736: the container's first process comes from us; it must never reach a
        // writable handle to this binary.
        if let Err(e) = berth_sys::exe::reexec_protected() {
            return Err(Failure::new(125, format!("protecting our own binary: {e}")));
        }
        std::process::exit(berth_engine::monitor::run(
            std::path::Path::new(&argv[1]),
            &argv[2],
        ));
    }
    // The name server of user networks (started by monitors, never by hand).
    if argv.first().map(String::as_str) == Some("__dns") && argv.len() == 2 {
        std::process::exit(berth_engine::dns::serve(std::path::Path::new(&argv[1])));
    }
    let (global, rest) = split_globals(&argv);
    let g = args::parse(GLOBAL, &global, true).map_err(|e| Failure::usage("", e))?;
    if g.on("version") {
        println!(
            "berth version {}, build {}",
            env!("CARGO_PKG_VERSION"),
            env!("BERTH_GIT_COMMIT")
        );
        return Ok(());
    }
    let Some((cmd, tail)) = rest.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    // `berth container VERB ...` is `berth VERB ...` (ls and list are ps).
    let (cmd, tail) = match (cmd.as_str(), tail.split_first()) {
        ("container", Some((sub, rest))) => (
            match sub.as_str() {
                "ls" | "list" => "ps",
                "remove" => "rm",
                other => other,
            },
            rest,
        ),
        ("container", None) => {
            return Err(Failure::usage(
                "container",
                "\"berth container\" requires a subcommand",
            ))
        }
        (c, _) => (c, tail),
    };
    let cmd = &cmd.to_string();
    if g.on("help") || cmd == "help" {
        print!("{USAGE}");
        return Ok(());
    }
    let root = g
        .get("root")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("BERTH_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/lib/berth"));
    let globals = Globals { root };
    match cmd.as_str() {
        "version" => system::version(&globals, tail),
        "info" => system::info(&globals, tail),
        "image" => {
            let Some((sub, tail)) = tail.split_first() else {
                return Err(Failure::usage(
                    "image",
                    "\"berth image\" requires a subcommand",
                ));
            };
            match sub.as_str() {
                "pull" => registry::pull_cmd(&globals, "image pull", tail),
                "push" => registry::push_cmd(&globals, "image push", tail),
                _ => images::dispatch(&globals, &format!("image {sub}"), tail),
            }
        }
        "system" => match tail.split_first() {
            Some((s, t)) if s == "df" => system::system_df(&globals, t),
            Some((s, t)) if s == "prune" => system::system_prune(&globals, t),
            Some((s, t)) if s == "info" => system::info(&globals, t),
            _ => Err(Failure::usage(
                "system",
                "\"berth system\" requires a subcommand: df or prune",
            )),
        },
        "volume" => volumes::dispatch(&globals, tail),
        "network" => networks::dispatch(&globals, tail),
        "run" | "container run" => containers::run(&globals, tail),
        "create" | "container create" => containers::create(&globals, tail),
        "start" | "container start" => containers::start(&globals, tail),
        "ps" | "container ls" | "container list" => containers::ps(&globals, tail),
        "logs" | "container logs" => containers::logs(&globals, tail),
        "stop" | "container stop" => containers::stop(&globals, tail),
        "kill" | "container kill" => containers::kill(&globals, tail),
        "rm" | "container rm" => containers::rm(&globals, tail),
        "wait" | "container wait" => containers::wait(&globals, tail),
        "exec" | "container exec" => containers::exec(&globals, tail),
        "pause" | "container pause" => containers::pause(&globals, tail),
        "unpause" | "container unpause" => containers::unpause(&globals, tail),
        "rename" | "container rename" => containers::rename(&globals, tail),
        "restart" | "container restart" => containers::restart(&globals, tail),
        "inspect" | "container inspect" => containers::inspect(&globals, cmd, tail),
        "top" => containers::top(&globals, tail),
        "cp" => cp::cp(&globals, tail),
        "attach" | "container attach" => attach::attach_cmd(&globals, tail),
        "update" => update::update(&globals, tail),
        "stats" => stats::stats(&globals, tail),
        "commit" => containers::commit(&globals, tail),
        "export" => containers::export(&globals, tail),
        "diff" => containers::diff(&globals, tail),
        "port" => containers::port(&globals, tail),
        "prune" if rest.first().map(String::as_str) == Some("container") => {
            containers::prune(&globals, tail)
        }
        "pull" | "image pull" => registry::pull_cmd(&globals, cmd, tail),
        "push" | "image push" => registry::push_cmd(&globals, cmd, tail),
        "login" => registry::login_cmd(&globals, cmd, tail),
        "logout" => registry::logout_cmd(&globals, cmd, tail),
        "images" | "load" | "save" | "import" | "tag" | "rmi" | "history" => {
            images::dispatch(&globals, cmd, tail)
        }
        other => Err(Failure::usage(
            "",
            format!("unknown command \"{other}\" for \"berth\""),
        )),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Err(f) = run(argv) {
        let _ = std::io::stdout().flush();
        let mut err = std::io::stderr().lock();
        if f.status == 125 && f.usage_of.is_some() {
            let _ = writeln!(err, "berth: {}", f.message);
            let cmd = f.usage_of.unwrap_or_default();
            let _ = writeln!(
                err,
                "See 'berth {}--help'.",
                if cmd.is_empty() {
                    String::new()
                } else {
                    format!("{cmd} ")
                }
            );
        } else if f.raw {
            let _ = writeln!(err, "{}", f.message);
        } else {
            let _ = writeln!(err, "Error: {}", f.message);
        }
        std::process::exit(f.status);
    }
}

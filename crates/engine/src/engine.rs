//! The engine: containers on top of the image store and the runtime library. Every `berth`
//! process opens its own; they share state through the database and the filesystem.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_image::Store;

use crate::container::{self, Config, Container, HostConfig, Status};
use crate::error::{EngineError, Result};
use crate::spec;

pub struct Engine {
    pub store: Store,
    root: PathBuf,
    /// Cleanup that needn't hold up the caller: see [`Engine::finish_deferred`].
    pub(crate) deferred: Deferred,
}

#[derive(Default)]
pub(crate) struct Deferred {
    /// The ID of a container whose runtime state is to be deleted.
    runtime: Option<String>,
    trees: Vec<PathBuf>,
    /// Host ends of veth pairs to delete (a deletion waits out an RCU grace period, and
    /// the container's namespace takes them with it anyway), and whose they are.
    pub(crate) links: Vec<String>,
    pub(crate) links_of: Option<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("root", &self.root).finish()
    }
}

/// What `create` needs from `run`'s or `create`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The ID to give the container (from [`container::new_id`]), when the caller needs it
    /// before the record exists: `run` starts the monitor first ([`spawn_monitor`]).
    pub id: Option<String>,
    pub name: Option<String>,
    pub image: String,
    /// Arguments after the image: they replace the image's Cmd.
    pub cmd: Vec<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub labels: Vec<(String, String)>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `--expose`, each `PORT/PROTO` (ranges already spread out).
    pub expose: Vec<String>,
    pub host: HostConfig,
    /// `--health-*` and `--no-healthcheck`, merged over the image's field by field.
    pub healthcheck: Option<berth_image::spec::HealthConfig>,
}

/// A container whose monitor started it.
#[derive(Debug)]
pub struct Started {
    pub pid: i32,
    pub monitor: Child,
    report: std::io::BufReader<std::fs::File>,
}

impl Started {
    /// Waits for the container to exit (as its monitor reports) and returns its status.
    pub fn wait(mut self) -> Result<i32> {
        let mut line = String::new();
        loop {
            line.clear();
            match read_report(&mut self.report, &mut self.monitor, &mut line) {
                Ok(0) => {
                    return Err(EngineError::Monitor(
                        "the monitor exited without reporting the container's exit".into(),
                    ))
                }
                Ok(_) => {
                    if let Some(code) = crate::monitor::status_of(&line) {
                        // Not waited for: after reporting, the monitor may still be cleaning
                        // up after an --rm container, which needn't hold up the caller.
                        let _ = self.monitor.try_wait();
                        return Ok(code);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(EngineError::Monitor(e.to_string())),
            }
        }
    }
}

/// Reads a line of the monitor's report; 0 when the monitor is gone. End of file alone
/// doesn't tell: a container init the monitor forked and that waits to be started holds a
/// copy of the pipe, so a monitor killed between the runtime's create and start left `run`
/// waiting forever (found by the crash tests). So the wait also ends when the monitor has
/// exited and has nothing more to say.
fn read_report(
    report: &mut std::io::BufReader<std::fs::File>,
    monitor: &mut Child,
    line: &mut String,
) -> std::io::Result<usize> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut exited = false;
    loop {
        if !report.buffer().is_empty() {
            return report.read_line(line);
        }
        let ready = {
            let mut fds = [PollFd::new(report.get_ref().as_fd(), PollFlags::POLLIN)];
            // Once the monitor has exited, only what it wrote before is left to read.
            let wait = if exited { 0u16 } else { 100 };
            match poll(&mut fds, PollTimeout::from(wait)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if ready {
            return report.read_line(line);
        }
        if exited {
            return Ok(0);
        }
        exited = monitor.try_wait()?.is_some();
    }
}

/// How a started container's stdio connect to the caller.
#[derive(Debug, Default)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// A socket the caller bridges itself (a `-t` container's terminal), attached before
    /// the container starts; see [`crate::attach::bridge`].
    pub client: Option<std::os::fd::OwnedFd>,
    /// The caller's window size, for a `-t` container's pty before it starts.
    pub winsize: Option<(u16, u16)>,
}

fn now() -> String {
    berth_image::timefmt::now()
}

/// Docker's exit status for an error from the runtime while starting the command.
pub(crate) fn command_error(e: berth_runtime::Error) -> EngineError {
    let msg = e.to_string();
    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
        EngineError::Command {
            message: msg,
            status: 127,
        }
    } else if msg.contains("permission denied") {
        EngineError::Command {
            message: msg,
            status: 126,
        }
    } else {
        EngineError::Runtime(e)
    }
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine> {
        let store = Store::open(root)?;
        Ok(Engine {
            store,
            root: root.to_path_buf(),
            deferred: Deferred::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.root.join("runtime")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// `docker create`: a container record, its writable snapshot and its files.
    pub fn create(&mut self, o: CreateOptions) -> Result<Container> {
        crate::health::validate(o.healthcheck.as_ref())?;
        let img = self.store.resolve(&o.image)?;
        let cfg = self.store.config(&img)?;
        let id = match &o.id {
            Some(id) if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => id.clone(),
            Some(id) => return Err(EngineError::Invalid(format!("invalid container ID {id:?}"))),
            None => container::new_id(),
        };
        let name = match &o.name {
            Some(n) => {
                let n = n.strip_prefix('/').unwrap_or(n);
                if !container::valid_name(n) {
                    return Err(EngineError::BadName(n.to_string()));
                }
                n.to_string()
            }
            None => {
                let mut n = container::random_name(&id);
                let mut i = 1;
                while container::name_taken(&self.store, &n)? {
                    n = format!("{}{i}", container::random_name(&id));
                    i += 1;
                }
                n
            }
        };
        let image_cfg = cfg.config.clone();
        let entrypoint: Vec<String> = match &o.entrypoint {
            Some(e) if e.is_empty() => Vec::new(),
            Some(e) => vec![e.clone()],
            None => image_cfg.entrypoint.clone().unwrap_or_default(),
        };
        let cmd: Vec<String> = if !o.cmd.is_empty() {
            o.cmd.clone()
        } else if o.entrypoint.is_some() {
            Vec::new()
        } else {
            image_cfg.cmd.clone().unwrap_or_default()
        };
        let mut argv = entrypoint.clone();
        argv.extend(cmd.iter().cloned());
        if argv.is_empty() {
            return Err(EngineError::Invalid("No command specified".into()));
        }
        let mut env = image_cfg.env.clone().unwrap_or_default();
        env.extend(o.env.iter().cloned());
        let mut labels = image_cfg.labels.clone().unwrap_or_default();
        labels.extend(o.labels.iter().cloned());
        // As the user named it, which is what docker shows in `ps`.
        let image_name = o.image.clone();
        let mut c = Container {
            id: id.clone(),
            name,
            image: img.id.to_string(),
            created: now(),
            config: Config {
                image: image_name,
                entrypoint: (!entrypoint.is_empty()).then_some(entrypoint),
                cmd: (!cmd.is_empty()).then_some(cmd),
                env,
                working_dir: o.workdir.clone().unwrap_or(image_cfg.working_dir.clone()),
                user: o.user.clone().unwrap_or(image_cfg.user.clone()),
                hostname: match (&o.hostname, o.host.uts_mode.as_str()) {
                    (Some(h), _) => h.clone(),
                    (None, "host") => nix::unistd::gethostname()
                        .ok()
                        .and_then(|h| h.into_string().ok())
                        .unwrap_or_default(),
                    (None, _) => id[..12].to_string(),
                },
                hostname_set: o.hostname.is_some(),
                tty: o.tty,
                open_stdin: o.interactive,
                labels,
                volumes: Default::default(),
                exposed_ports: {
                    let mut p = image_cfg.exposed_ports.clone().unwrap_or_default();
                    for e in &o.expose {
                        p.insert(e.clone(), serde_json::json!({}));
                    }
                    p
                },
                stop_signal: (!image_cfg.stop_signal.is_empty())
                    .then(|| image_cfg.stop_signal.clone()),
                stop_timeout: None,
                healthcheck: crate::health::merge(o.healthcheck, image_cfg.health_config()),
            },
            host_config: o.host.clone(),
            state: Default::default(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
        };
        crate::volume::plan(&mut c, image_cfg.volumes.as_ref())?;
        // Bad capabilities or a bad seccomp profile fail here, not at start. Docker's
        // default profile is ours and needs no check: building it is for the monitor.
        let caps = spec::capabilities(&c)?;
        if c.host_config.seccomp.is_some() {
            spec::seccomp(&c, &caps)?;
        }
        spec::validate(&c)?;
        crate::endpoint::validate(&c)?;
        if let Some(net) = crate::endpoint::network_name(&c.host_config.network_mode) {
            self.network_find(net)?;
        }
        if let Some(other) = c.host_config.network_mode.strip_prefix("container:") {
            // Docker keeps the ID: a rename of the other container changes nothing.
            let other = self.refresh(other)?;
            c.host_config.network_mode = format!("container:{}", other.id);
        }
        spec::fill_defaults(&mut c.host_config);
        crate::update::check_create(&c.host_config)?;
        let dir = self.container_dir(&id);
        // Held until the record is in: `sweep` leaves a directory being created alone.
        let _creating = match self.write_files(&c, &dir) {
            Ok(lock) => lock,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        // From the config already read: the chain is its diff IDs.
        let top = berth_image::spec::chain_ids(&cfg.rootfs.diff_ids)
            .last()
            .map(|d| d.to_string());
        let made = self
            .store
            .snapshots
            .prepare(&mut self.store.db, &id, top.as_deref())
            .map_err(berth_image::StoreError::from)
            .map(|_| container::insert(&mut self.store, &c));
        match made {
            Ok(Ok(())) => self.provision_volumes(c),
            Ok(Err(e)) => {
                let _ = self.store.snapshots.remove(&mut self.store.db, &id);
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e.into())
            }
        }
    }

    /// The directory of a new container and the files berth manages in it; returns the
    /// directory's creation lock (see [`creating`]).
    fn write_files(&self, c: &Container, dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
        std::fs::create_dir_all(dir.join("rootfs")).map_err(EngineError::io(&dir))?;
        let f = std::fs::File::open(dir).map_err(EngineError::io(&dir))?;
        // Blocking: a sweep probing the lock holds it for a moment.
        let lock =
            nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
                EngineError::Io {
                    path: dir.to_path_buf(),
                    source: e.into(),
                }
            })?;
        let write = |name: &str, body: String| {
            let p = dir.join(name);
            std::fs::write(&p, body).map_err(EngineError::io(&p))
        };
        write("hostname", format!("{}\n", c.config.hostname))?;
        let mut hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string();
        for h in &c.host_config.extra_hosts {
            let (name, ip) = h
                .split_once(':')
                .filter(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok())
                .ok_or_else(|| {
                    EngineError::Invalid(format!("invalid IP address in add-host: {h:?}"))
                })?;
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        write("hosts", hosts)?;
        write("resolv.conf", resolv_conf(&c.host_config))?;
        Ok(lock)
    }

    /// `docker start`: a monitor process starts the container and stays with it. With
    /// `attach`, the caller's stdio are handed to the monitor to be the container's.
    pub fn start(&mut self, id: &str, monitor_exe: &Path, attach: &Attach) -> Result<Started> {
        // Refreshed: a dead monitor's mount and runtime state go before a new one starts.
        let c = self.refresh(id)?;
        if c.state.status == Status::Running || c.state.monitor.is_some() {
            return Err(EngineError::Conflict(format!(
                "container {} is already running",
                c.short_id()
            )));
        }
        // A start by the user clears an earlier stop's mark.
        container::update(&mut self.store, &c.id, |r| r.state.stopping = false)?;
        spawn_monitor(&self.root, &c.id, monitor_exe, attach, false)?.go()
    }

    /// In the monitor: mount the rootfs, write the OCI config, create and start. A `-t`
    /// container's pty master comes back with the pid, sized `winsize` before it starts.
    pub(crate) fn start_in_monitor(
        &mut self,
        c: &Container,
        winsize: Option<(u16, u16)>,
    ) -> Result<(i32, Option<std::os::fd::OwnedFd>)> {
        let dir = self.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let mounts = self
            .store
            .snapshots
            .mounts(&self.store.db, &c.id)
            .map_err(berth_image::StoreError::from)?;
        {
            // Not while `cp` has the stopped container's snapshot mounted.
            let _lock = crate::cp::rootfs_lock(&dir)?;
            // Whatever a killed monitor left mounted here goes first: never stack on it.
            unmount_all(&rootfs);
            mount_rootfs(&mounts, &rootfs, c.host_config.auto_remove)?;
        }
        self.populate_volumes(c, &rootfs)?;
        // `--network container:NAME`: its namespace, and the files that go with it.
        let joined = match c.host_config.network_mode.strip_prefix("container:") {
            Some(other) => {
                let o = self.refresh(other)?;
                if o.state.status != Status::Running || o.state.pid <= 0 {
                    return Err(EngineError::Conflict(format!(
                        "cannot join network of a non running container: {}",
                        o.id
                    )));
                }
                Some((
                    PathBuf::from(format!("/proc/{}/ns/net", o.state.pid)),
                    self.container_dir(&o.id),
                ))
            }
            None => None,
        };
        let files_dir = joined.as_ref().map_or(&dir, |(_, d)| d);
        let files = spec::Managed {
            hostname: &dir.join("hostname"),
            hosts: &files_dir.join("hosts"),
            resolv: &files_dir.join("resolv.conf"),
            netns: joined.as_ref().map(|(p, _)| p.as_path()),
        };
        berth_seccomp::cache::set_dir(&self.root.join("seccomp"));
        let config = spec::build(c, &rootfs, &files, "/berth")?;
        let cfg_path = dir.join("config.json");
        std::fs::write(&cfg_path, serde_json::to_vec(&config).unwrap_or_default())
            .map_err(EngineError::io(&cfg_path))?;
        let runtime_root = self.runtime_root();
        // A stopped container's runtime state from an earlier start is in the way.
        if let Ok(old) = berth_runtime::Container::load(&runtime_root, &c.id) {
            let _ = berth_runtime::delete::delete(&old, true);
        }
        let created = berth_runtime::create::create(berth_runtime::create::CreateOptions {
            root: runtime_root,
            id: c.id.clone(),
            bundle: dir.clone(),
            console: if c.config.tty {
                berth_runtime::create::Console::Internal
            } else {
                berth_runtime::create::Console::None
            },
            pid_file: None,
            no_pivot: false,
            preserve_fds: 0,
        })
        .map_err(command_error)?;
        if let (Some(m), Some((rows, cols))) = (&created.console, winsize) {
            let _ = berth_sys::pty::set_winsize(std::os::fd::AsFd::as_fd(m), rows, cols);
        }
        let pid = created.container.record.init_pid;
        // Its network namespace exists and nothing runs in it yet.
        let network = match self.connect_networks(c, pid) {
            Ok(n) => n,
            Err(e) => {
                let _ = berth_runtime::delete::delete(&created.container, true);
                return Err(e);
            }
        };
        if let Err(e) = berth_runtime::start::start(&created.container) {
            self.disconnect_networks(c);
            return Err(command_error(e));
        }
        let me = std::process::id() as i32;
        let me_start = berth_sys::proc::start_time(me).map_or(0, |(s, _)| s);
        let restarting = c.state.status == Status::Restarting;
        container::update(&mut self.store, &c.id, |r| {
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.started_at = Some(now());
            r.state.finished_at = None;
            r.state.monitor = Some((me, me_start));
            r.state.network = network;
            if !restarting {
                r.state.restart_count = 0;
            }
        })?;
        Ok((pid, created.console))
    }

    /// After the container exited (or failed to start): release the runtime state and the
    /// rootfs, record the exit, and remove an `--rm` container. Returns the exit code.
    ///
    /// An `--rm` container is gone from the records when this returns, but its runtime
    /// state, cgroups and directories are left to [`Engine::finish_deferred`], so that the
    /// monitor can report the exit first: nobody can reach them by then, and a monitor
    /// killed before it gets there leaves only what [`Engine::sweep`] removes.
    pub(crate) fn finish(&mut self, c: &Container, code: Option<i32>) -> Result<i32> {
        let code = code.unwrap_or(128);
        self.disconnect_networks_deferred(c);
        if c.host_config.auto_remove {
            // Nobody can ask an --rm container for its exit once it is gone, so the record
            // goes at once with its snapshot, in one transaction, and the runtime's state
            // later: the caller is waiting for the exit.
            self.deferred.runtime = Some(c.id.clone());
            self.remove_files(c, true)?;
            self.remove_anonymous_volumes(c);
            return Ok(code);
        }
        let mut oom = false;
        if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &c.id) {
            oom = berth_runtime::events::oom_kills(&rc).unwrap_or(0) > 0;
            let _ = berth_runtime::delete::delete(&rc, true);
        }
        let rootfs = self.container_dir(&c.id).join("rootfs");
        let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
        container::update(&mut self.store, &c.id, |r| {
            r.state.status = if code_started(code) {
                Status::Exited
            } else {
                Status::Created
            };
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.oom_killed = oom;
            r.state.finished_at = Some(now());
            r.state.monitor = None;
            r.state.network = Default::default();
        })?;
        Ok(code)
    }

    /// The cleanup [`Engine::finish`] put off.
    pub(crate) fn finish_deferred(&mut self) {
        if let Some(id) = self.deferred.runtime.take() {
            if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &id) {
                let _ = berth_runtime::delete::delete(&rc, true);
            }
        }
        for t in std::mem::take(&mut self.deferred.trees) {
            let _ = std::fs::remove_dir_all(&t);
        }
        let links = std::mem::take(&mut self.deferred.links);
        if !links.is_empty() {
            let mut failed = Vec::new();
            match berth_network::link::Netlink::open() {
                Ok(mut nl) => {
                    for l in &links {
                        if let Err(e) = nl.delete_link(l) {
                            failed.push(format!("deleting {l}: {e}"));
                        }
                    }
                }
                Err(e) => failed.push(format!("netlink: {e}")),
            }
            if let Some(id) = self.deferred.links_of.take() {
                self.note_failures(&id, &failed);
            }
        }
    }

    /// Removes what containers that no longer have a record left behind (their monitor was
    /// killed between recording the removal and cleaning up): runtime state and cgroups,
    /// container directories, and detached snapshot directories. Only leftovers older than
    /// a minute go, so a container being created (files first, record second) is safe.
    pub fn sweep(&mut self) -> Result<()> {
        let known: Vec<String> = container::list(&self.store)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        self.sweep_except(&known);
        Ok(())
    }

    fn sweep_except(&mut self, known: &[String]) {
        let known: std::collections::HashSet<&str> = known.iter().map(String::as_str).collect();
        let min_age = sweep_age();
        let old = |p: &Path| {
            std::fs::symlink_metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age)
        };
        let runtime_root = self.runtime_root();
        for dir in [self.root.join("containers"), runtime_root.clone()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.len() != 64
                    || known.contains(id.as_str())
                    || !old(&e.path())
                    || creating(&self.root, &id)
                    // Inserted since `known` was read, and perhaps started already.
                    || container::find(&self.store, &id).is_ok()
                {
                    continue;
                }
                if dir == runtime_root {
                    if let Ok(rc) = berth_runtime::Container::load(&runtime_root, &id) {
                        let _ = berth_runtime::delete::delete(&rc, true);
                    }
                } else {
                    let _ = nix::mount::umount2(
                        &e.path().join("rootfs"),
                        nix::mount::MntFlags::MNT_DETACH,
                    );
                }
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        self.sweep_endpoints(&known);
        // A container's snapshot is prepared before its record is inserted (two
        // transactions): a `create` killed in between leaves a writable snapshot that no
        // record names, which garbage collection keeps (it keeps every active snapshot).
        // Found by the crash tests.
        let Ok(snapshots) = self.store.snapshots.list(&self.store.db) else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        for s in snapshots {
            let container_key = s.key.len() == 64 && s.key.bytes().all(|b| b.is_ascii_hexdigit());
            if s.kind != berth_image::snapshot::Kind::Active
                || !container_key
                || known.contains(s.key.as_str())
                || now.saturating_sub(s.created) < min_age.as_secs() as i64
                || creating(&self.root, &s.key)
            {
                continue;
            }
            if let Ok(trash) = self.store.snapshots.detach(&mut self.store.db, &s.key) {
                let _ = self.store.snapshots.purge(&trash);
            }
        }
    }

    /// Between a restart-policy exit and the next start: release the runtime state and the
    /// rootfs, and count the restart.
    pub(crate) fn prepare_restart(&mut self, c: &Container, code: i32) -> Result<()> {
        self.disconnect_networks(c);
        if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &c.id) {
            let _ = berth_runtime::delete::delete(&rc, true);
        }
        let _ = nix::mount::umount2(
            &self.container_dir(&c.id).join("rootfs"),
            nix::mount::MntFlags::MNT_DETACH,
        );
        container::update(&mut self.store, &c.id, |r| {
            r.state.status = Status::Restarting;
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.restart_count += 1;
            r.state.finished_at = Some(now());
            r.state.network = Default::default();
        })?;
        Ok(())
    }

    /// The container's snapshot, record and directory; with `defer`, the directories are
    /// deleted by [`Engine::finish_deferred`].
    fn remove_files(&mut self, c: &Container, defer: bool) -> Result<()> {
        let dir = self.container_dir(&c.id);
        unmount_all(&dir.join("rootfs"));
        let Store { db, snapshots, .. } = &mut self.store;
        let trash = db.write(|tx| {
            let trash = match snapshots.detach_in(tx, &c.id) {
                Ok(trash) => Some(trash),
                Err(berth_image::snapshot::SnapshotError::NotFound(_)) => None,
                Err(e) => return Err(EngineError::from(berth_image::StoreError::from(e))),
            };
            container::delete_in(tx, &c.id)?;
            Ok(trash)
        })?;
        self.deferred.trees.extend(trash);
        self.deferred.trees.push(dir);
        if !defer {
            self.finish_deferred();
        }
        Ok(())
    }

    /// Sends `signal` to the container's init.
    pub fn kill(&mut self, id: &str, signal: &str) -> Result<Container> {
        let c = self.refresh(id)?;
        if c.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                id, c.id
            )));
        }
        let sig = berth_runtime::kill::parse_signal(signal)?;
        container::update(&mut self.store, &c.id, |r| r.state.stopping = true)?;
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        berth_runtime::kill::kill(&rc, sig, false)?;
        Ok(c)
    }

    /// Waits until the container is no longer running (its monitor recorded the exit).
    pub fn wait(
        &mut self,
        id: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<Option<Container>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let c = match self.refresh(id) {
                Ok(c) => c,
                Err(EngineError::NoSuchContainer(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            if !matches!(
                c.state.status,
                Status::Running | Status::Restarting | Status::Paused
            ) {
                return Ok(Some(c));
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(Some(c));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// `docker stop` of several containers at once, as docker's CLI stops them in parallel:
    /// every stop signal goes out first, so the grace periods run side by side and the whole
    /// takes about the longest one, not their sum. One result per id, in order.
    pub fn stop_many(&mut self, ids: &[String], timeout: Option<i64>) -> Vec<Result<Container>> {
        let mut deadlines = Vec::new();
        for id in ids {
            deadlines.push(self.refresh(id).and_then(|c| {
                if c.state.status == Status::Restarting {
                    // Between two runs: make sure there is no next one.
                    container::update(&mut self.store, &c.id, |r| r.state.stopping = true)?;
                    return Ok((c, None));
                }
                if c.state.status != Status::Running {
                    return Ok((c, None));
                }
                let sig = c
                    .config
                    .stop_signal
                    .clone()
                    .unwrap_or_else(|| "SIGTERM".into());
                let _ = self.kill(&c.id, &sig);
                let t = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(t);
                Ok((c, Some(deadline)))
            }));
        }
        ids.iter()
            .zip(deadlines)
            .map(|(id, d)| {
                let (c, d) = d?;
                if let Some(d) = d {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    let after = self.wait(id, Some(left))?;
                    if after.is_some_and(|a| a.state.status == Status::Running) {
                        let _ = self.kill(id, "SIGKILL");
                    }
                }
                // None: an --rm container, removed by its monitor once stopped.
                Ok(self.wait(id, None)?.unwrap_or(c))
            })
            .collect()
    }

    /// `docker stop`: the stop signal, then SIGKILL after `timeout` seconds.
    pub fn stop(&mut self, id: &str, timeout: Option<i64>) -> Result<Container> {
        let ids = [id.to_string()];
        self.stop_many(&ids, timeout)
            .pop()
            .unwrap_or_else(|| Err(EngineError::NoSuchContainer(id.into())))
    }

    /// `docker rm`.
    pub fn remove(&mut self, id: &str, force: bool) -> Result<Container> {
        let c = self.refresh(id)?;
        if matches!(
            c.state.status,
            Status::Running | Status::Restarting | Status::Paused
        ) {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            container::update(&mut self.store, &c.id, |r| r.state.stopping = true)?;
            if c.state.status == Status::Paused {
                // A frozen process can't die: thaw it first, as docker does.
                if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &c.id) {
                    let _ = berth_runtime::pause::resume(&rc);
                }
                container::update(&mut self.store, &c.id, |r| r.state.status = Status::Running)?;
            }
            if c.state.status != Status::Restarting {
                let _ = self.kill(&c.id, "SIGKILL");
            }
            self.wait(&c.id, Some(std::time::Duration::from_secs(30)))?;
        }
        let c = match container::find(&self.store, &c.id) {
            Ok(c) => c,
            // Its monitor removed it (`--rm`) while we waited.
            Err(EngineError::NoSuchContainer(_)) => return Ok(c),
            Err(e) => return Err(e),
        };
        if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &c.id) {
            let _ = berth_runtime::delete::delete(&rc, true);
        }
        self.remove_files(&c, false)?;
        Ok(c)
    }

    /// The record, after checking that a container said to be running still has its
    /// monitor: one whose monitor died (killed, or the machine rebooted) is marked exited
    /// and its leftovers released, so every command sees the truth.
    pub fn refresh(&mut self, id: &str) -> Result<Container> {
        let c = container::find(&self.store, id)?;
        if !stale(&c) {
            return Ok(c);
        }
        // Decided again inside the write transaction: the monitor may have recorded the
        // real exit and gone between our read and now, and that record must stand.
        let mut reconciled = false;
        let c = container::update(&mut self.store, &c.id, |r| {
            if !stale(r) {
                return;
            }
            if r.state.status == Status::Created {
                // Killed while starting it (see `monitor::monitor`): it never ran.
                r.state.error = "the container's monitor died while starting it".into();
            } else {
                r.state.status = Status::Exited;
                r.state.exit_code = 255;
                r.state.error = "the container's monitor died".into();
            }
            r.state.pid = 0;
            r.state.finished_at = Some(now());
            r.state.monitor = None;
            r.state.network = Default::default();
            reconciled = true;
        })?;
        if reconciled {
            self.disconnect_networks(&c);
            if let Ok(rc) = berth_runtime::Container::load(&self.runtime_root(), &c.id) {
                let _ = berth_runtime::delete::delete(&rc, true);
            }
            unmount_all(&self.container_dir(&c.id).join("rootfs"));
            if c.host_config.auto_remove {
                // Docker removes an --rm container it finds dead when it restarts; with
                // nobody left to do it, the command that notices does (found by the crash
                // tests: such containers stayed forever).
                self.remove_files(&c, false)?;
                self.remove_anonymous_volumes(&c);
                return Err(EngineError::NoSuchContainer(id.to_string()));
            }
        }
        Ok(c)
    }

    /// Every container, each refreshed.
    pub fn containers(&mut self) -> Result<Vec<Container>> {
        let all = container::list(&self.store)?;
        let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
        self.sweep_except(&ids);
        let mut out = Vec::new();
        for c in all {
            if stale(&c) {
                // Only a record that looks stale is read again and reconciled.
                if let Ok(c) = self.refresh(&c.id) {
                    out.push(c);
                }
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Whether the record must be reconciled: it says the container runs but its monitor is
/// gone, or a monitor started to start it (and may have mounted its rootfs or created it in
/// the runtime) and died before it got to record the outcome.
fn stale(c: &Container) -> bool {
    let alive = c
        .state
        .monitor
        .is_some_and(|(pid, start)| berth_sys::proc::alive(pid, start));
    match c.state.status {
        Status::Running | Status::Restarting | Status::Paused => !alive,
        _ => c.state.monitor.is_some() && !alive,
    }
}

/// Unmounts everything stacked on `path`: a rootfs mounted again over one a dead monitor
/// left would otherwise leave the lower mount behind after a single unmount.
pub(crate) fn unmount_all(path: &Path) {
    for _ in 0..16 {
        if nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

/// Whether a `create` (alive) holds container `id`'s directory lock: its files and snapshot
/// exist before its record does, and are no leftovers. A killed creator's lock is gone with
/// it, so what it left is swept at once when `BERTH_SWEEP_AGE_SECS` is 0.
fn creating(root: &Path, id: &str) -> bool {
    let Ok(f) = std::fs::File::open(root.join("containers").join(id)) else {
        return false;
    };
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err()
}

/// How old a leftover without a record must be before [`Engine::sweep`] removes it: 60 s,
/// or `BERTH_SWEEP_AGE_SECS`. The delay protects a container another process is creating
/// (files first, record second); the variable lets tests, and an operator who knows that no
/// other berth is running, sweep at once.
fn sweep_age() -> std::time::Duration {
    let secs = std::env::var("BERTH_SWEEP_AGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// A container that failed before its command ran stays "created", as in Docker.
fn code_started(code: i32) -> bool {
    code != 128
}

/// Mounts the container's snapshot at `target`. A `volatile` overlay (for `--rm`
/// containers, whose writes never outlive them) skips the sync of the whole upper
/// filesystem that unmounting an overlay otherwise does: a few ms per run on a busy disk.
pub(crate) fn mount_rootfs(
    mounts: &[berth_image::snapshot::Mount],
    target: &Path,
    volatile: bool,
) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let m = mounts
        .first()
        .ok_or_else(|| EngineError::Invalid("snapshot has no mounts".into()))?;
    let mut m = m.clone();
    if volatile && m.kind != "bind" {
        // A volatile overlay marks its workdir, and refuses a remount until the mark is
        // gone; an --rm container restarted after a crash has nothing to lose by that.
        if let Some(work) = m.options.iter().find_map(|o| o.strip_prefix("workdir=")) {
            let _ = std::fs::remove_dir_all(Path::new(work).join("work/incompat"));
        }
        m.options.push("volatile".into());
    }
    let r = if m.kind == "bind" {
        mount(
            Some(m.source.as_str()),
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
    } else {
        let opts = m.options.join(",");
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
    };
    r.map_err(|e| {
        // ENOENT names the target, but what is missing is a layer the mount needs (one
        // deleted under berth): name that instead (found by the crash tests).
        let needed = std::iter::once(m.source.as_str()).filter(|_| m.kind == "bind");
        let layers = m.options.iter().flat_map(|o| {
            let dirs = ["lowerdir=", "upperdir=", "workdir="]
                .iter()
                .find_map(|k| o.strip_prefix(k))
                .unwrap_or_default();
            dirs.split(':').filter(|d| !d.is_empty())
        });
        let missing = needed.chain(layers).find(|d| !Path::new(d).exists());
        match missing {
            Some(d) if e == nix::errno::Errno::ENOENT => EngineError::Io {
                path: PathBuf::from(d),
                source: std::io::Error::other(format!(
                    "image layer missing: cannot mount the rootfs at {}",
                    target.display()
                )),
            },
            _ => EngineError::Io {
                path: target.to_path_buf(),
                source: e.into(),
            },
        }
    })
}

/// The host's resolv.conf, minus loopback nameservers a container can't reach (Docker's
/// rule); with none left, Google's public resolvers, as Docker does.
/// `--dns`, `--dns-search` and `--dns-option` replace the host's lines of their kind.
fn resolv_conf(h: &HostConfig) -> String {
    resolv_conf_via(h, None)
}

/// The container's resolv.conf: the host's (or `--dns`'s) servers, or with `server` (the
/// name server of its user network) that one alone, with the host's search domains and
/// options unless `--dns-search` and `--dns-option` replace them.
pub(crate) fn resolv_conf_via(h: &HostConfig, server: Option<&str>) -> String {
    if let (Some(ns), true) = (server, h.dns.is_empty()) {
        let h = HostConfig {
            dns: vec![ns.to_string()],
            ..h.clone()
        };
        return resolv_conf_via(&h, None);
    }
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for l in host.lines() {
        let t = l.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if !h.dns.is_empty() || ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            servers += 1;
        }
        if (t.starts_with("search") && !h.dns_search.is_empty())
            || (t.starts_with("options") && !h.dns_options.is_empty())
        {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    for d in &h.dns {
        out.push_str(&format!("nameserver {d}\n"));
        servers += 1;
    }
    if !h.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", h.dns_search.join(" ")));
    }
    if !h.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", h.dns_options.join(" ")));
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// A monitor waiting for its container's record: see [`spawn_monitor`].
#[derive(Debug)]
pub struct Pending {
    monitor: Child,
    report: std::io::BufReader<std::fs::File>,
    go: Option<std::fs::File>,
}

/// Starts the monitor of container `id`. With `go`, it gets ready (execs, opens the
/// database) and then waits for [`Pending::go`], so that `run` can overlap that with
/// creating the record; dropped instead, it exits without a word.
pub fn spawn_monitor(
    root: &Path,
    id: &str,
    monitor_exe: &Path,
    attach: &Attach,
    go: bool,
) -> Result<Pending> {
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Monitor(format!("pipe: {e}")))?;
    let stdio = |on: bool| if on { Stdio::inherit() } else { Stdio::null() };
    let mut cmd = Command::new(monitor_exe);
    cmd.arg("__monitor")
        .arg(root)
        .arg(id)
        .stdin(stdio(attach.stdin))
        .stdout(stdio(attach.stdout))
        .stderr(stdio(attach.stderr));
    let (go_r, go_w) = if go {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::Monitor(format!("pipe: {e}")))?;
        cmd.env("BERTH_GO", crate::monitor::GO_FD.to_string());
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    if attach.stdin {
        // Our stdin is the container's (`run -i`): not just a /dev/null of ours.
        cmd.env("BERTH_STDIN", "1");
    }
    if attach.client.is_some() {
        // Fd 4 is ours to read only when we say so: a caller's own fd 4 can leak here.
        cmd.env("BERTH_CLIENT_FD", crate::monitor::CLIENT_FD.to_string());
    }
    if let Some((rows, cols)) = attach.winsize {
        cmd.env("BERTH_TTY_SIZE", format!("{rows}:{cols}"));
    }
    let w = std::os::fd::AsRawFd::as_raw_fd(&report_w);
    let client = attach.client.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    let go_fd = go_r.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    // SAFETY: between fork and exec only async-signal-safe calls: setsid, fcntl and dup2.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // Out of the way first, so that neither lands on the other's number.
            let w = libc::fcntl(w, libc::F_DUPFD_CLOEXEC, 10);
            let c = client.map_or(-1, |c| libc::fcntl(c, libc::F_DUPFD_CLOEXEC, 10));
            let g = go_fd.map_or(-1, |g| libc::fcntl(g, libc::F_DUPFD_CLOEXEC, 10));
            if w < 0 || libc::dup2(w, crate::monitor::REPORT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if c >= 0 && libc::dup2(c, crate::monitor::CLIENT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if g >= 0 && libc::dup2(g, crate::monitor::GO_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let monitor = cmd
        .spawn()
        .map_err(|e| EngineError::Monitor(format!("starting {}: {e}", monitor_exe.display())))?;
    drop(report_w);
    drop(go_r);
    Ok(Pending {
        monitor,
        report: std::io::BufReader::new(std::fs::File::from(report_r)),
        go: go_w.map(std::fs::File::from),
    })
}

impl Pending {
    /// Lets the monitor start the container; returns once it has, or failed to.
    pub fn go(self) -> Result<Started> {
        let Pending {
            mut monitor,
            mut report,
            go,
        } = self;
        if let Some(mut go) = go {
            use std::io::Write;
            go.write_all(b"1")
                .map_err(|e| EngineError::Monitor(format!("starting the monitor: {e}")))?;
        }
        let mut line = String::new();
        loop {
            line.clear();
            match read_report(&mut report, &mut monitor, &mut line) {
                Ok(0) => {
                    return Err(EngineError::Monitor(
                        "the monitor exited before starting the container".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(EngineError::Monitor(e.to_string())),
            }
            if let Some(pid) = line.strip_prefix("started ") {
                return Ok(Started {
                    pid: pid.trim().parse().unwrap_or(0),
                    monitor,
                    report,
                });
            }
            if let Some(rest) = line.strip_prefix("error ") {
                let (status, msg) = rest.trim_end().split_once(' ').unwrap_or(("125", rest));
                let status: i32 = status.parse().unwrap_or(125);
                return Err(if status == 126 || status == 127 {
                    EngineError::Command {
                        message: msg.to_string(),
                        status,
                    }
                } else {
                    EngineError::Monitor(msg.to_string())
                });
            }
        }
    }
}

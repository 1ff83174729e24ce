//! `docker exec`: another process in a running container, through the runtime library. In
//! the foreground it shares the caller's stdio and the caller reaps it (as a subreaper);
//! detached, it is left to the container.

use std::path::Path;

use oci_spec::runtime::{ProcessBuilder, UserBuilder};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::spec;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub detach: bool,
    pub privileged: bool,
    /// `-t`: the process gets a pty, whose master [`Engine::exec_tty`] returns.
    pub tty: bool,
}

impl Engine {
    /// Starts the process; returns its pid (the caller waits for it unless detached).
    pub fn exec(&mut self, id: &str, o: &ExecOptions) -> Result<i32> {
        self.exec_tty(id, o).map(|(pid, _)| pid)
    }

    /// [`Engine::exec`], also returning the pty master of a `-t` process.
    pub fn exec_tty(
        &mut self,
        id: &str,
        o: &ExecOptions,
    ) -> Result<(i32, Option<std::os::fd::OwnedFd>)> {
        let c = self.refresh(id)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    c.id
                )))
            }
            _ => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not running",
                    c.id
                )))
            }
        }
        if o.cmd.is_empty() {
            return Err(EngineError::Invalid("No exec command specified".into()));
        }
        self.exec_in(&c, o)
    }

    /// Starts `o.cmd` in the running container `c` without consulting the database, so
    /// that a forked healthcheck probe can use it too.
    pub(crate) fn exec_in(
        &self,
        c: &crate::container::Container,
        o: &ExecOptions,
    ) -> Result<(i32, Option<std::os::fd::OwnedFd>)> {
        berth_seccomp::cache::set_dir(&self.root().join("seccomp"));
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        let base = berth_runtime::exec::default_process(&rc)?;
        let rootfs = format!("/proc/{}/root", rc.record.init_pid);
        let user = o.user.clone().unwrap_or(c.config.user.clone());
        let (uid, gid, groups) = spec::resolve_user(Path::new(&rootfs), &user)?;
        let mut env = base.env().clone().unwrap_or_default();
        for e in &o.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let mut caps = base.capabilities().clone();
        if o.privileged {
            let all: std::collections::HashSet<oci_spec::runtime::Capability> = spec::all_caps()
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect();
            caps = oci_spec::runtime::LinuxCapabilitiesBuilder::default()
                .bounding(all.clone())
                .effective(all.clone())
                .permitted(all)
                .build()
                .ok();
        }
        let user = UserBuilder::default()
            .uid(uid)
            .gid(gid)
            .additional_gids(groups)
            .build()
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if o.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let mut b = ProcessBuilder::default()
            .terminal(o.tty)
            .user(user)
            .args(o.cmd.clone())
            .env(env)
            .cwd(
                o.workdir
                    .clone()
                    .unwrap_or_else(|| base.cwd().display().to_string()),
            )
            .no_new_privileges(base.no_new_privileges().unwrap_or(false));
        if let Some(c) = caps {
            b = b.capabilities(c);
        }
        let process = b.build().map_err(|e| EngineError::Invalid(e.to_string()))?;
        let done = berth_runtime::exec::exec(
            &rc,
            berth_runtime::exec::ExecOptions {
                process,
                console: if o.tty && !o.detach {
                    berth_runtime::create::Console::Internal
                } else {
                    berth_runtime::create::Console::None
                },
                pid_file: None,
                preserve_fds: 0,
                attached: !o.detach,
            },
        )
        .map_err(crate::engine::command_error)?;
        Ok((done.pid, done.console))
    }

    pub fn pause(&mut self, id: &str) -> Result<()> {
        let c = self.refresh(id)?;
        if c.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        berth_runtime::pause::pause(&rc)?;
        crate::container::update(&mut self.store, &c.id, |r| r.state.status = Status::Paused)?;
        Ok(())
    }

    pub fn unpause(&mut self, id: &str) -> Result<()> {
        let c = self.refresh(id)?;
        if c.state.status != Status::Paused {
            return Err(EngineError::Conflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        berth_runtime::pause::resume(&rc)?;
        crate::container::update(&mut self.store, &c.id, |r| r.state.status = Status::Running)?;
        Ok(())
    }

    pub fn rename(&mut self, id: &str, new: &str) -> Result<()> {
        let new = new.strip_prefix('/').unwrap_or(new);
        if !crate::container::valid_name(new) {
            return Err(EngineError::BadName(new.to_string()));
        }
        let c = self.refresh(id)?;
        if let Ok(other) = crate::container::find(&self.store, new) {
            if other.name == new && other.id != c.id {
                return Err(EngineError::NameInUse {
                    name: new.to_string(),
                    id: other.id,
                });
            }
        }
        crate::container::update(&mut self.store, &c.id, |r| r.name = new.to_string()).map_err(
            |e| match e {
                EngineError::Db(_) => EngineError::NameInUse {
                    name: new.to_string(),
                    id: String::new(),
                },
                e => e,
            },
        )?;
        Ok(())
    }
}

impl Engine {
    /// The host pids of the container's processes (for `top`).
    pub fn pids(&mut self, id: &str) -> Result<Vec<i32>> {
        let c = self.refresh(id)?;
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        Ok(berth_runtime::update::pids(&rc)?)
    }

    /// `container prune`: removes every container that isn't running; returns their IDs.
    pub fn prune(&mut self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.containers()? {
            if matches!(
                c.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) && self.remove(&c.id, false).is_ok()
            {
                removed.push(c.id);
            }
        }
        Ok(removed)
    }
}

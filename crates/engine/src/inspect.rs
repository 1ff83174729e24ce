//! `docker inspect` of a container: Docker's JSON shape, so that tools reading it (and
//! `--format` templates written for docker) work unchanged.

use serde_json::{json, Value};

use crate::container::{Container, Status};
use crate::engine::Engine;

impl Engine {
    pub fn inspect(&self, c: &Container) -> Value {
        let dir = self.container_dir(&c.id);
        let s = &c.state;
        let zero = "0001-01-01T00:00:00Z";
        let mut v = json!({
            "Id": c.id,
            "Created": c.created,
            "Path": c.path,
            "Args": c.args,
            "State": {
                "Status": s.status.as_str(),
                "Running": s.status == Status::Running || s.status == Status::Paused,
                "Paused": s.status == Status::Paused,
                "Restarting": s.status == Status::Restarting,
                "OOMKilled": s.oom_killed,
                "Dead": s.status == Status::Dead,
                "Pid": s.pid,
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": s.started_at.clone().unwrap_or_else(|| zero.into()),
                "FinishedAt": s.finished_at.clone().unwrap_or_else(|| zero.into()),
            },
            "Image": c.image,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": self.log_path(&c.id),
            "Name": format!("/{}", c.name),
            "RestartCount": s.restart_count,
            "Driver": "overlayfs",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": {
                "AutoRemove": c.host_config.auto_remove,
                "Privileged": c.host_config.privileged,
                "ReadonlyRootfs": c.host_config.read_only,
                "CapAdd": c.host_config.cap_add,
                "CapDrop": c.host_config.cap_drop,
                "NetworkMode": c.host_config.network_mode,
                "SecurityOpt": if c.host_config.no_new_privileges { json!(["no-new-privileges"]) } else { Value::Null },
                "Init": c.host_config.init,
                "RestartPolicy": {
                    "Name": c.host_config.restart.split(':').next().filter(|n| !n.is_empty()).unwrap_or("no"),
                    "MaximumRetryCount": c.host_config.restart.split_once(':').and_then(|(_, n)| n.parse::<u32>().ok()).unwrap_or(0),
                },
                "LogConfig": {"Type": "json-file", "Config": {}},
                "ShmSize": 67108864,
            },
            "GraphDriver": {
                "Name": "overlayfs",
                "Data": {"MergedDir": dir.join("rootfs")},
            },
            "Mounts": self.mounts_json(c),
            "Config": {
                "Hostname": c.config.hostname,
                "Domainname": "",
                "User": c.config.user,
                "AttachStdin": false,
                "AttachStdout": false,
                "AttachStderr": false,
                "Tty": c.config.tty,
                "OpenStdin": c.config.open_stdin,
                "StdinOnce": false,
                "Env": c.config.env,
                "Cmd": c.config.cmd,
                "Image": c.config.image,
                "Volumes": null,
                "WorkingDir": c.config.working_dir,
                "Entrypoint": c.config.entrypoint,
                "OnBuild": null,
                "Labels": c.config.labels,
            },
            "NetworkSettings": {
                "Bridge": "",
                "Ports": {},
                "IPAddress": "",
                "Networks": {},
            },
        });
        if let Some(h) = &c.config.healthcheck {
            v["Config"]["Healthcheck"] = json!(h);
        }
        if let Some(h) = &s.health {
            v["State"]["Health"] = json!(h);
        }
        if let Some(h) = v["HostConfig"].as_object_mut() {
            h.extend(crate::update::resources_json(&c.host_config));
        }
        v
    }
}

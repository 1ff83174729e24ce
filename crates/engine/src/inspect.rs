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
                "CgroupnsMode": c.host_config.cgroupns_mode,
                "UsernsMode": c.host_config.userns_mode,
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
                "Volumes": if c.config.volumes.is_empty() { Value::Null } else { json!(c.config.volumes) },
                "ExposedPorts": if c.config.exposed_ports.is_empty() { Value::Null } else { json!(c.config.exposed_ports) },
                "WorkingDir": c.config.working_dir,
                "Entrypoint": c.config.entrypoint,
                "OnBuild": null,
                "Labels": c.config.labels,
            },
            "NetworkSettings": crate::endpoint::settings_json(c),
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
        docker_keys(c, &mut v);
        v
    }
}

/// The rest of the keys Docker's inspect always has, so that tools reading them find them:
/// from the record where berth has the setting, else Docker's value for "not set".
fn docker_keys(c: &Container, v: &mut Value) {
    let h = &c.host_config;
    let list = |l: &[String]| if l.is_empty() { Value::Null } else { json!(l) };
    let host = json!({
        "Binds": list(&h.binds),
        "ContainerIDFile": "",
        "PortBindings": crate::endpoint::bindings_json(&h.endpoint.port_bindings),
        "VolumeDriver": "",
        "VolumesFrom": null,
        "ConsoleSize": [0, 0],
        "Dns": h.dns,
        "DnsOptions": h.dns_options,
        "DnsSearch": h.dns_search,
        "ExtraHosts": list(&h.extra_hosts),
        "GroupAdd": list(&h.group_add),
        "IpcMode": if h.ipc_mode.is_empty() { "private" } else { h.ipc_mode.as_str() },
        "Cgroup": "",
        "Links": list(&h.endpoint.links),
        "OomScoreAdj": 0,
        "PidMode": h.pid_mode,
        "PublishAllPorts": h.endpoint.publish_all,
        "UTSMode": h.uts_mode,
        "Runtime": "runc",
        "Isolation": "",
        "CgroupParent": "",
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "Devices": h.devices.iter().map(|(host, inside, perms)| json!({
            "PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms,
        })).collect::<Vec<_>>(),
        "DeviceCgroupRules": null,
        "DeviceRequests": null,
        "MemorySwappiness": null,
        "Ulimits": h.ulimits.iter().map(|(n, soft, hard)| json!({
            "Name": n, "Soft": soft, "Hard": hard,
        })).collect::<Vec<_>>(),
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": if h.privileged { Value::Null } else { json!(crate::spec::MASKED) },
        "ReadonlyPaths": if h.privileged { Value::Null } else { json!(crate::spec::READONLY) },
    });
    let mut tmpfs = serde_json::Map::new();
    for t in &h.tmpfs {
        let (dest, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
        tmpfs.insert(dest.to_string(), json!(opts));
    }
    if let (Some(to), Value::Object(from)) = (v["HostConfig"].as_object_mut(), host) {
        for (k, x) in from {
            to.entry(k).or_insert(x);
        }
        if !tmpfs.is_empty() {
            to.insert("Tmpfs".into(), Value::Object(tmpfs));
        }
        if !h.sysctls.is_empty() {
            to.insert("Sysctls".into(), json!(h.sysctls));
        }
    }
    let net = json!({
        "SandboxID": "",
        "SandboxKey": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPv6Gateway": "",
    });
    if let (Some(to), Value::Object(from)) = (v["NetworkSettings"].as_object_mut(), net) {
        for (k, x) in from {
            to.entry(k).or_insert(x);
        }
    }
    // Docker leaves these out when they are not set.
    if let Some(cfg) = v["Config"].as_object_mut() {
        if let Some(s) = &c.config.stop_signal {
            cfg.insert("StopSignal".into(), json!(s));
        }
        if let Some(t) = c.config.stop_timeout {
            cfg.insert("StopTimeout".into(), json!(t));
        }
    }
}

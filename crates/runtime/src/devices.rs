//! Device nodes every container gets, and the device cgroup rules that go with them.

use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

/// A device node to create inside the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices runc and Docker always provide.
const DEFAULTS: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/urandom", 1, 9),
    ("/dev/random", 1, 8),
];

fn type_char(t: LinuxDeviceType) -> char {
    match t {
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => 'p',
        LinuxDeviceType::A => 'a',
    }
}

/// Default devices followed by the spec's, a spec entry replacing a default of the same path.
pub fn devices(spec: &[LinuxDevice]) -> Vec<Device> {
    let mut out: Vec<Device> = DEFAULTS
        .iter()
        .filter(|(p, ..)| !spec.iter().any(|d| d.path().as_os_str() == *p))
        .map(|&(p, major, minor)| Device {
            path: p.into(),
            kind: 'c',
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    out.extend(spec.iter().map(|d| Device {
        path: d.path().clone(),
        kind: type_char(d.typ()),
        major: d.major(),
        minor: d.minor(),
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }));
    out
}

fn allow(
    kind: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(kind)
        .access(access.to_string());
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().expect("all builder fields have defaults")
}

/// The cgroup rules: the spec's own first, then allow rules for the devices we create and
/// for ptys, as runc adds them.
pub fn cgroup_rules(spec_rules: &[LinuxDeviceCgroup], devs: &[Device]) -> Vec<LinuxDeviceCgroup> {
    let mut rules = spec_rules.to_vec();
    rules.push(allow(LinuxDeviceType::C, None, None, "m"));
    rules.push(allow(LinuxDeviceType::B, None, None, "m"));
    for d in devs {
        let t = if d.kind == 'b' {
            LinuxDeviceType::B
        } else {
            LinuxDeviceType::C
        };
        rules.push(allow(t, Some(d.major), Some(d.minor), "rwm"));
    }
    rules.push(allow(LinuxDeviceType::C, Some(136), None, "rwm")); // /dev/pts/*
    rules.push(allow(LinuxDeviceType::C, Some(5), Some(2), "rwm")); // /dev/ptmx
    rules.push(allow(LinuxDeviceType::C, Some(5), Some(1), "rwm")); // /dev/console
    rules.push(allow(LinuxDeviceType::C, Some(10), Some(200), "rwm")); // /dev/net/tun
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_device_overrides_default() {
        let d: LinuxDevice = serde_json::from_str(
            r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384}"#,
        )
        .unwrap();
        let devs = devices(&[d]);
        assert_eq!(devs.len(), 6);
        let null = devs
            .iter()
            .find(|d| d.path.as_os_str() == "/dev/null")
            .unwrap();
        assert_eq!(null.mode, 0o600);
        let rules = cgroup_rules(&[], &devs);
        assert!(rules.iter().any(|r| r.major() == Some(136)));
    }
}

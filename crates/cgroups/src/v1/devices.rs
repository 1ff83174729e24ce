//! v1 devices controller.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::fs;
use crate::Error;

/// The runc rule format "type major:minor access", with "*" for a wildcard number. Returns
/// `None` for rules the kernel cannot express (fifos: the devices cgroup knows only a, b, c).
pub(crate) fn rule(d: &LinuxDeviceCgroup) -> Result<Option<String>, Error> {
    let typ = match d.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::B) => 'b',
        // "u" is an unbuffered character device; the kernel only knows "c".
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::P) => return Ok(None),
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_owned(),
    };
    let access = access(d)?;
    Ok(Some(format!(
        "{typ} {}:{} {access}",
        num(d.major()),
        num(d.minor())
    )))
}

/// Empty access means all of "rwm". Anything else is refused before it reaches a write, since a
/// newline would smuggle a second rule.
pub(crate) fn access(d: &LinuxDeviceCgroup) -> Result<&str, Error> {
    match d.access().as_deref() {
        None | Some("") => Ok("rwm"),
        Some(a) if a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) => Ok(a),
        Some(a) => Err(Error::InvalidResource {
            field: "devices.access",
            value: a.to_owned(),
            reason: "only the letters r, w and m are allowed".into(),
        }),
    }
}

/// Denies everything, then replays the rules in order, so the last matching rule wins as in
/// the OCI spec. The brief deny-all window does not matter at create time; `update` normally
/// carries no device rules.
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), Error> {
    // Validate all before touching the cgroup so a bad rule cannot leave it deny-all.
    let rendered = rules
        .iter()
        .map(|r| Ok(rule(r)?.map(|s| (r.allow(), s))))
        .collect::<Result<Vec<_>, Error>>()?;
    fs::write(dir, "devices.deny", "a")?;
    for (allow, value) in rendered.into_iter().flatten() {
        let file = if allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        fs::write(dir, file, &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn rule_format() {
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(rule(&r).unwrap().unwrap(), "c 1:3 rwm");
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap();
        assert_eq!(rule(&r).unwrap().unwrap(), "a *:* rwm");
        let r = LinuxDeviceCgroupBuilder::default()
            .typ(LinuxDeviceType::B)
            .major(8)
            .access("r")
            .build()
            .unwrap();
        assert_eq!(rule(&r).unwrap().unwrap(), "b 8:* r");
        let r = LinuxDeviceCgroupBuilder::default()
            .typ(LinuxDeviceType::P)
            .build()
            .unwrap();
        assert_eq!(rule(&r).unwrap(), None);
        let r = LinuxDeviceCgroupBuilder::default()
            .access("rw\na *:* rwm")
            .build()
            .unwrap();
        assert!(rule(&r).is_err());
    }
}

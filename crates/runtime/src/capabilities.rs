//! The five capability sets of the container process.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::{Error, Result};

/// Capability sets resolved in the parent, applied in the child.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<oci_spec::runtime::Capabilities>, field: &str) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap: Capability = name
            .parse()
            .map_err(|_| Error::Invalid(format!("process.capabilities.{field}: unknown {name}")))?;
        out.insert(cap);
    }
    Ok(out)
}

impl CapSets {
    /// Resolves the spec's sets; a missing section means no capabilities at all, as in runc.
    pub(crate) fn from_spec(c: Option<&LinuxCapabilities>) -> Result<Self> {
        let Some(c) = c else {
            return Ok(CapSets::default());
        };
        Ok(CapSets {
            bounding: convert(c.bounding(), "bounding")?,
            effective: convert(c.effective(), "effective")?,
            permitted: convert(c.permitted(), "permitted")?,
            inheritable: convert(c.inheritable(), "inheritable")?,
            ambient: convert(c.ambient(), "ambient")?,
        })
    }

    /// Drops everything outside the bounding set; needs CAP_SETPCAP, so it runs before the
    /// switch to the container user.
    pub(crate) fn drop_bounding(&self) -> Result<()> {
        for cap in caps::all() {
            if self.bounding.contains(&cap) {
                continue;
            }
            berth_sys::process::drop_bounding(cap.index())
                .map_err(|e| Error::Init(format!("drop {cap} from bounding set: {e}")))?;
        }
        Ok(())
    }

    /// Sets effective, permitted, inheritable and ambient, after the user switch.
    pub(crate) fn apply(&self) -> Result<()> {
        // Effective first: lowering permitted below the current effective set is refused.
        for (set, value, name) in [
            (CapSet::Effective, &self.effective, "effective"),
            (CapSet::Permitted, &self.permitted, "permitted"),
            (CapSet::Inheritable, &self.inheritable, "inheritable"),
        ] {
            caps::set(None, set, value)
                .map_err(|e| Error::Init(format!("set {name} capabilities: {e}")))?;
        }
        caps::clear(None, CapSet::Ambient)
            .map_err(|e| Error::Init(format!("clear ambient capabilities: {e}")))?;
        for cap in &self.ambient {
            // Ambient needs the cap in permitted and inheritable; runc ignores failures here.
            let _ = caps::raise(None, CapSet::Ambient, *cap);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_names_map_to_kernel_caps() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL"]}"#,
        )
        .unwrap();
        let s = CapSets::from_spec(Some(&c)).unwrap();
        assert!(s.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(s.effective.len(), 1);
        assert!(s.ambient.is_empty());
    }
}

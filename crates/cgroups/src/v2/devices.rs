//! v2 devices: there is no control file; an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
//! attached to the cgroup, answers every open/mknod of a device node.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::bpf::{self, Insn};
use crate::v1::device_access;
use crate::Error;

// include/uapi/linux/bpf.h
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Opcodes: class | op | source.
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_K: u8 = 0xb4;
const ALU32_MOV_X: u8 = 0xbc;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const JMP_EXIT: u8 = 0x95;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

fn to_imm(field: &'static str, v: i64) -> Result<i32, Error> {
    i32::try_from(v).map_err(|_| Error::InvalidResource {
        field,
        value: v.to_string(),
        reason: "out of range for a device number".into(),
    })
}

/// The filter for `rules` with v1 semantics: deny everything, then the last matching rule wins.
/// Rules are checked newest first and the first match decides. An allow rule matches when every
/// requested access is allowed; a deny rule matches when any requested access is denied.
///
/// Registers after the prologue: R2 device type, R3 requested access, R4 major, R5 minor
/// (struct bpf_cgroup_dev_ctx: access_type = access << 16 | type, major, minor).
pub(crate) fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, Error> {
    let mut p = vec![
        Insn::new(LDX_MEM_W, R2, R1, 0, 0),
        Insn::new(ALU32_AND_K, R2, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, R3, R1, 0, 0),
        Insn::new(ALU32_RSH_K, R3, 0, 0, 16),
        Insn::new(LDX_MEM_W, R4, R1, 4, 0),
        Insn::new(LDX_MEM_W, R5, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        if let Some((block, unconditional)) = rule_block(rule)? {
            p.extend(block);
            // Nothing after an unconditional verdict can run, and the verifier rejects
            // unreachable instructions.
            if unconditional {
                return Ok(p);
            }
        }
    }
    p.push(Insn::new(ALU32_MOV_K, R0, 0, 0, 0));
    p.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// The rule's instructions, and whether it matches every access.
fn rule_block(rule: &LinuxDeviceCgroup) -> Result<Option<(Vec<Insn>, bool)>, Error> {
    let typ = match rule.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DEV_CHAR),
        // The device hook never sees fifos.
        Some(LinuxDeviceType::P) => return Ok(None),
    };
    let access = device_access(rule)?.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => ACC_MKNOD,
        }
    });
    let mut b = Vec::new();
    // Jumps to the end of this block ("no match"), patched once its length is known.
    let mut skips = Vec::new();
    if let Some(t) = typ {
        skips.push(b.len());
        b.push(Insn::new(JMP_JNE_K, R2, 0, 0, t));
    }
    if access != ACC_ALL {
        b.push(Insn::new(ALU32_MOV_X, R1, R3, 0, 0));
        b.push(Insn::new(ALU32_AND_K, R1, 0, 0, access));
        skips.push(b.len());
        if rule.allow() {
            b.push(Insn::new(JMP_JNE_X, R1, R3, 0, 0));
        } else {
            b.push(Insn::new(JMP_JEQ_K, R1, 0, 0, 0));
        }
    }
    if let Some(major) = rule.major().filter(|m| *m >= 0) {
        skips.push(b.len());
        b.push(Insn::new(
            JMP_JNE_K,
            R4,
            0,
            0,
            to_imm("devices.major", major)?,
        ));
    }
    if let Some(minor) = rule.minor().filter(|m| *m >= 0) {
        skips.push(b.len());
        b.push(Insn::new(
            JMP_JNE_K,
            R5,
            0,
            0,
            to_imm("devices.minor", minor)?,
        ));
    }
    b.push(Insn::new(ALU32_MOV_K, R0, 0, 0, i32::from(rule.allow())));
    b.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    let len = b.len();
    let unconditional = skips.is_empty();
    for i in skips {
        b[i].off = (len - i - 1) as i16;
    }
    Ok(Some((b, unconditional)))
}

/// Attaches the new filter before detaching the old ones, so the cgroup is never unfiltered.
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), Error> {
    let insns = program(rules)?;
    let bpf_err = |op| {
        move |source: io::Error| Error::Bpf {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    let cgroup = File::open(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let old = bpf::query_device_progs(cgroup.as_fd()).map_err(bpf_err("query"))?;
    let prog = bpf::load_device_prog(&insns).map_err(bpf_err("load device program"))?;
    bpf::attach_device_prog(cgroup.as_fd(), prog.as_fd()).map_err(bpf_err("attach"))?;
    for id in old {
        let fd = match bpf::prog_fd_by_id(id) {
            Ok(fd) => fd,
            // Detached by someone else meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(bpf_err("get program fd")(e)),
        };
        match bpf::detach_device_prog(cgroup.as_fd(), fd.as_fd()) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                return Err(bpf_err("detach old program")(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// How many device programs are attached directly to `dir` (for tests and diagnostics).
pub(crate) fn attached_count(dir: &Path) -> Result<usize, Error> {
    let cgroup = File::open(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    bpf::query_device_progs(cgroup.as_fd())
        .map(|v| v.len())
        .map_err(|source| Error::Bpf {
            op: "query",
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn block_jumps_land_on_next_block() {
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        let (b, unconditional) = rule_block(&r).unwrap().unwrap();
        assert!(!unconditional);
        // type, mov, and, access, major, minor, mov r0, exit
        assert_eq!(b.len(), 8);
        assert_eq!(b[0].off, 7);
        assert_eq!(b[3].off, 4);
        assert_eq!(b[5].off, 2);
        assert_eq!(b[6].imm, 1);
        assert_eq!(b[1].regs, R1 | (R3 << 4));
    }

    #[test]
    fn wildcard_rule_is_unconditional_and_default_is_deny() {
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap();
        let (b, unconditional) = rule_block(&r).unwrap().unwrap();
        assert_eq!((b.len(), unconditional), (2, true));
        let p = program(&[]).unwrap();
        assert_eq!(p[p.len() - 2], Insn::new(ALU32_MOV_K, R0, 0, 0, 0));
        // A wildcard rule ends the program: the default after it would be unreachable.
        let allow_all = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .build()
            .unwrap();
        let p = program(&[r, allow_all]).unwrap();
        assert_eq!(p.len(), 6 + 2);
        assert_eq!(p[6].imm, 1);
    }
}

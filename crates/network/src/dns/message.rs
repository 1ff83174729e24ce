//! DNS messages (RFC 1035, with the EDNS(0) OPT record of RFC 6891): a parser that accepts
//! any bytes without panicking and a serializer that compresses names and truncates to a size
//! limit.
//!
//! The parser is strict where laxity costs: compression pointers must point strictly before
//! the name (or the earlier pointer target) they appear in, so they can neither loop nor go
//! forward; labels are at most 63 bytes and names at most 255 on the wire; every count in the
//! header must be matched by records in the packet, and nothing may follow the last one.
//! Record data is decoded for the types berth answers (A, PTR); all other data is kept as
//! bytes, which is exact for anything that has no compressed names inside.

use std::fmt;
use std::net::Ipv4Addr;

/// The largest name on the wire, length bytes and root included.
pub const MAX_NAME: usize = 255;
/// The largest label.
pub const MAX_LABEL: usize = 63;
/// The size of the fixed header.
pub const HEADER_LEN: usize = 12;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

pub const OPCODE_QUERY: u8 = 0;
pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;

/// Why a packet is not a DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The packet ends inside the header, a name or a record.
    Truncated,
    /// A length byte with the reserved top bits `01` or `10` (a "label" longer than 63).
    BadLabel,
    /// A name longer than 255 bytes on the wire.
    NameTooLong,
    /// A compression pointer that does not point strictly backwards.
    BadPointer,
    /// Record data that does not fit its type (an A record that is not 4 bytes).
    BadRdata,
    /// Bytes after the last record the header counts.
    TrailingData,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Truncated => "truncated message",
            ParseError::BadLabel => "label longer than 63 bytes or of a reserved type",
            ParseError::NameTooLong => "name longer than 255 bytes",
            ParseError::BadPointer => "compression pointer that does not point backwards",
            ParseError::BadRdata => "record data does not fit its type",
            ParseError::TrailingData => "bytes after the last record",
        })
    }
}

impl std::error::Error for ParseError {}

/// A domain name: its labels, as bytes, in their original case. Only valid names exist
/// (labels of 1 to 63 bytes, at most 255 bytes on the wire).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// The root, `.`.
    pub fn root() -> Name {
        Name::default()
    }

    /// A name from its labels, or `None` if a label is empty or longer than 63 bytes, or the
    /// name is longer than 255 bytes on the wire.
    pub fn from_labels<L: AsRef<[u8]>>(labels: impl IntoIterator<Item = L>) -> Option<Name> {
        let mut out = Vec::new();
        let mut wire = 1;
        for l in labels {
            let l = l.as_ref();
            if l.is_empty() || l.len() > MAX_LABEL {
                return None;
            }
            wire += 1 + l.len();
            if wire > MAX_NAME {
                return None;
            }
            out.push(l.to_vec());
        }
        Some(Name { labels: out })
    }

    /// A name from dotted text (`web`, `web.`, `1.0.67.10.in-addr.arpa`; `.` is the root),
    /// without escapes. `None` if it is not a valid name.
    pub fn from_dotted(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Some(Name::root());
        }
        Name::from_labels(s.split('.'))
    }

    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// The length on the wire, uncompressed.
    pub fn wire_len(&self) -> usize {
        self.labels.iter().map(|l| 1 + l.len()).sum::<usize>() + 1
    }

    /// Case-insensitive equality (ASCII only, as DNS defines it).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.labels.len() == other.labels.len()
            && self
                .labels
                .iter()
                .zip(&other.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// The name as lowercase dotted text without the trailing dot, if every byte is a
    /// printable ASCII character other than `.` and `\` (anything else could be confused
    /// with another name once dotted). `None` for the root too.
    pub fn to_lowercase_dotted(&self) -> Option<String> {
        if self.labels.is_empty() {
            return None;
        }
        let mut s = String::with_capacity(self.wire_len());
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for &b in l {
                if !b.is_ascii_graphic() || b == b'.' || b == b'\\' {
                    return None;
                }
                s.push(b.to_ascii_lowercase() as char);
            }
        }
        Some(s)
    }
}

/// Presentation format: dotted, with a trailing dot, `\.`, `\\` and `\DDD` escapes.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for l in &self.labels {
            for &b in l {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    _ if b.is_ascii_graphic() => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// The fixed header, every bit of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    /// A response.
    pub qr: bool,
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The reserved bit.
    pub z: bool,
    /// Authentic data.
    pub ad: bool,
    /// Checking disabled.
    pub cd: bool,
    /// The low 4 bits of the response code.
    pub rcode: u8,
}

impl Header {
    fn flags(&self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0xf) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.z) << 6)
            | (u16::from(self.ad) << 5)
            | (u16::from(self.cd) << 4)
            | u16::from(self.rcode & 0xf)
    }

    fn from_flags(id: u16, f: u16) -> Header {
        Header {
            id,
            qr: f & 0x8000 != 0,
            opcode: ((f >> 11) & 0xf) as u8,
            aa: f & 0x0400 != 0,
            tc: f & 0x0200 != 0,
            rd: f & 0x0100 != 0,
            ra: f & 0x0080 != 0,
            z: f & 0x0040 != 0,
            ad: f & 0x0020 != 0,
            cd: f & 0x0010 != 0,
            rcode: (f & 0xf) as u8,
        }
    }

    /// The header of a packet, if it is long enough to have one.
    pub fn parse(packet: &[u8]) -> Option<Header> {
        let b = packet.get(..4)?;
        if packet.len() < HEADER_LEN {
            return None;
        }
        Some(Header::from_flags(
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ptr(Name),
    /// Any other type's data, as it was on the wire.
    Other(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    /// The class; for OPT, the requester's UDP payload size.
    pub class: u16,
    /// The TTL; for OPT, the extended rcode, version and flags.
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    pub fn a(name: Name, ttl: u32, ip: Ipv4Addr) -> Record {
        Record {
            name,
            rtype: TYPE_A,
            class: CLASS_IN,
            ttl,
            data: RData::A(ip),
        }
    }

    pub fn ptr(name: Name, ttl: u32, target: Name) -> Record {
        Record {
            name,
            rtype: TYPE_PTR,
            class: CLASS_IN,
            ttl,
            data: RData::Ptr(target),
        }
    }

    /// An OPT pseudo-record: payload size, upper 8 bits of the rcode, version 0, no flags,
    /// no options.
    pub fn opt(payload: u16, ext_rcode: u8) -> Record {
        Record {
            name: Name::root(),
            rtype: TYPE_OPT,
            class: payload,
            ttl: u32::from(ext_rcode) << 24,
            data: RData::Other(Vec::new()),
        }
    }
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).ok_or(ParseError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(ParseError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ParseError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<Name, ParseError> {
        let (name, end) = parse_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn question(&mut self) -> Result<Question, ParseError> {
        Ok(Question {
            name: self.name()?,
            qtype: self.u16()?,
            qclass: self.u16()?,
        })
    }

    fn record(&mut self) -> Result<Record, ParseError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let start = self.pos;
        let raw = self.take(len)?;
        let data = match rtype {
            TYPE_A => {
                let b: [u8; 4] = raw.try_into().map_err(|_| ParseError::BadRdata)?;
                RData::A(Ipv4Addr::from(b))
            }
            TYPE_PTR => {
                // The name may be compressed against the whole message, but must end
                // exactly where the data does.
                let (target, end) = parse_name(&self.buf[..start + len], start)?;
                if end != start + len {
                    return Err(ParseError::BadRdata);
                }
                RData::Ptr(target)
            }
            _ => RData::Other(raw.to_vec()),
        };
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }
}

/// A name at `pos` of `msg`, and where the bytes after it start.
fn parse_name(msg: &[u8], start: usize) -> Result<(Name, usize), ParseError> {
    let mut labels = Vec::new();
    let mut wire = 1;
    let mut pos = start;
    // Where the run of labels being read began: a pointer must go strictly before it, so
    // every jump goes backwards and the walk ends.
    let mut run_start = start;
    let mut end = None;
    loop {
        let len = *msg.get(pos).ok_or(ParseError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                pos += 1;
                break;
            }
            0x00 => {
                let l = usize::from(len);
                let label = msg.get(pos + 1..pos + 1 + l).ok_or(ParseError::Truncated)?;
                wire += 1 + l;
                if wire > MAX_NAME {
                    return Err(ParseError::NameTooLong);
                }
                labels.push(label.to_vec());
                pos += 1 + l;
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(ParseError::Truncated)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= run_start {
                    return Err(ParseError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                run_start = target;
                pos = target;
            }
            _ => return Err(ParseError::BadLabel),
        }
    }
    Ok((Name { labels }, end.unwrap_or(pos)))
}

/// The header and question section of a packet, and where the question section ends; for
/// checking an upstream's reply without parsing its records.
pub fn parse_questions(packet: &[u8]) -> Result<(Header, Vec<Question>, usize), ParseError> {
    let header = Header::parse(packet).ok_or(ParseError::Truncated)?;
    let mut r = Reader {
        buf: packet,
        pos: 4,
    };
    let qd = r.u16()?;
    r.pos = HEADER_LEN;
    let mut questions = Vec::new();
    for _ in 0..qd {
        questions.push(r.question()?);
    }
    Ok((header, questions, r.pos))
}

impl Message {
    /// Parses a whole packet.
    pub fn parse(packet: &[u8]) -> Result<Message, ParseError> {
        let header = Header::parse(packet).ok_or(ParseError::Truncated)?;
        let mut r = Reader {
            buf: packet,
            pos: 4,
        };
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        // Every question takes at least 5 bytes and every record 11: counts the packet
        // cannot hold are refused before anything is allocated for them.
        let min = usize::from(counts[0]) * 5
            + (counts[1..].iter().map(|&c| usize::from(c)).sum::<usize>()) * 11;
        if min > packet.len() - HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let mut m = Message {
            header,
            ..Message::default()
        };
        for _ in 0..counts[0] {
            m.questions.push(r.question()?);
        }
        for (count, section) in
            counts[1..]
                .iter()
                .zip([&mut m.answers, &mut m.authority, &mut m.additional])
        {
            for _ in 0..*count {
                section.push(r.record()?);
            }
        }
        if r.pos != packet.len() {
            return Err(ParseError::TrailingData);
        }
        Ok(m)
    }

    /// The OPT record of the additional section, if there is one.
    pub fn opt(&self) -> Option<&Record> {
        self.additional.iter().find(|r| r.rtype == TYPE_OPT)
    }

    /// The message on the wire, at most `limit` bytes (and at most 65535) unless the header
    /// and questions alone are longer: records that do not fit are left out, last first,
    /// and TC is set. An OPT record is kept (it is written last, its room reserved).
    pub fn encode(&self, limit: usize) -> Vec<u8> {
        let limit = limit.min(usize::from(u16::MAX));
        let mut w = Writer {
            buf: Vec::with_capacity(512.min(limit)),
            names: Vec::new(),
        };
        let mut header = self.header;
        w.buf.extend_from_slice(&header.id.to_be_bytes());
        w.buf.extend_from_slice(&[0; 10]);
        for q in &self.questions {
            w.name(&q.name);
            w.u16(q.qtype);
            w.u16(q.qclass);
        }
        // Room is kept for every OPT record, wherever it is: they are written even when
        // the records around them are cut.
        let opt_len = |r: &Record| r.name.wire_len() + 10 + rdata_len(r);
        let mut reserved: usize = self
            .additional
            .iter()
            .filter(|r| r.rtype == TYPE_OPT)
            .map(opt_len)
            .sum();
        let mut counts = [0u16; 3];
        let mut truncated = false;
        for (i, section) in [&self.answers, &self.authority, &self.additional]
            .into_iter()
            .enumerate()
        {
            for r in section {
                let opt = i == 2 && r.rtype == TYPE_OPT;
                if counts[i] == u16::MAX {
                    truncated = true;
                    continue;
                }
                if truncated && !opt {
                    continue;
                }
                let (len, names) = (w.buf.len(), w.names.len());
                w.record(r);
                if opt {
                    reserved = reserved.saturating_sub(opt_len(r));
                } else if w.buf.len() + reserved > limit {
                    w.buf.truncate(len);
                    w.names.truncate(names);
                    truncated = true;
                    continue;
                }
                counts[i] += 1;
            }
        }
        header.tc |= truncated;
        let qd = u16::try_from(self.questions.len()).unwrap_or(u16::MAX);
        w.buf[2..4].copy_from_slice(&header.flags().to_be_bytes());
        w.buf[4..6].copy_from_slice(&qd.to_be_bytes());
        for (i, c) in counts.iter().enumerate() {
            w.buf[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        w.buf
    }
}

fn rdata_len(r: &Record) -> usize {
    match &r.data {
        RData::A(_) => 4,
        RData::Ptr(n) => n.wire_len(),
        RData::Other(b) => b.len(),
    }
}

struct Writer {
    buf: Vec<u8>,
    /// Names (suffixes) written so far and their offsets, for compression.
    names: Vec<(Vec<Vec<u8>>, u16)>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn name(&mut self, name: &Name) {
        let labels = name.labels();
        for i in 0..labels.len() {
            let suffix = &labels[i..];
            if let Some((_, off)) = self.names.iter().find(|(n, _)| n.as_slice() == suffix) {
                self.u16(0xc000 | off);
                return;
            }
            if let Ok(off) = u16::try_from(self.buf.len()) {
                if off < 0x4000 && self.names.len() < 256 {
                    self.names.push((suffix.to_vec(), off));
                }
            }
            self.buf.push(labels[i].len() as u8);
            self.buf.extend_from_slice(&labels[i]);
        }
        self.buf.push(0);
    }

    fn record(&mut self, r: &Record) {
        self.name(&r.name);
        self.u16(r.rtype);
        self.u16(r.class);
        self.buf.extend_from_slice(&r.ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.u16(0);
        match &r.data {
            RData::A(ip) => self.buf.extend_from_slice(&ip.octets()),
            RData::Ptr(n) => self.name(n),
            RData::Other(b) => self
                .buf
                .extend_from_slice(&b[..b.len().min(usize::from(u16::MAX))]),
        }
        let len = u16::try_from(self.buf.len() - len_at - 2).unwrap_or(u16::MAX);
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(name: &str, qtype: u16) -> Message {
        Message {
            header: Header {
                id: 0x1234,
                rd: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: Name::from_dotted(name).unwrap(),
                qtype,
                qclass: CLASS_IN,
            }],
            ..Message::default()
        }
    }

    #[test]
    fn query_round_trip_and_wire_format() {
        let q = query("web.example", TYPE_A);
        let wire = q.encode(512);
        assert_eq!(
            wire,
            [
                0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'e', b'b', 7, b'e', b'x',
                b'a', b'm', b'p', b'l', b'e', 0, 0, 1, 0, 1
            ]
        );
        assert_eq!(Message::parse(&wire).unwrap(), q);
    }

    #[test]
    fn answers_are_compressed_and_round_trip() {
        let mut m = query("web", TYPE_A);
        m.header.qr = true;
        m.header.aa = true;
        let name = m.questions[0].name.clone();
        for i in 1..=3 {
            m.answers
                .push(Record::a(name.clone(), 60, Ipv4Addr::new(10, 0, 0, i)));
        }
        m.answers.push(Record::ptr(
            Name::from_dotted("1.0.0.10.in-addr.arpa").unwrap(),
            60,
            Name::from_dotted("web").unwrap(),
        ));
        m.additional.push(Record::opt(1232, 0));
        let wire = m.encode(512);
        // Each A answer's name is a 2-byte pointer to the question's.
        assert_eq!(&wire[21..23], &[0xc0, 12]);
        assert_eq!(Message::parse(&wire).unwrap(), m);
    }

    #[test]
    fn compression_pointers_are_followed() {
        // Question "a.b", then an answer "c" + pointer to "b" (offset 14).
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[1, b'a', 1, b'b', 0, 0, 1, 0, 1]);
        p.extend_from_slice(&[1, b'c', 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        let m = Message::parse(&p).unwrap();
        assert_eq!(m.answers[0].name, Name::from_dotted("c.b").unwrap());
        assert_eq!(m.answers[0].data, RData::A(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn compression_loops_and_forward_pointers_are_rejected() {
        let head = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        // A pointer to itself.
        let mut p = head.to_vec();
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&p), Err(ParseError::BadPointer));
        // Two names pointing at each other: the answer's pointer goes back to a label
        // whose pointer goes forward to the answer.
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[1, b'a', 0xc0, 21, 0, 1, 0, 1]);
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Message::parse(&p), Err(ParseError::BadPointer));
        // A pointer into the header, to a label that points back to itself.
        let mut p = vec![0, 1, 0xc0, 2, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&[0xc0, 2, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&p), Err(ParseError::BadPointer));
    }

    #[test]
    fn truncated_packets_are_rejected() {
        let mut m = query("web.example", TYPE_A);
        m.answers.push(Record::a(
            m.questions[0].name.clone(),
            60,
            Ipv4Addr::LOCALHOST,
        ));
        let wire = m.encode(512);
        for n in 0..wire.len() {
            assert!(Message::parse(&wire[..n]).is_err(), "{n} bytes parsed");
        }
        let mut long = wire.clone();
        long.push(0);
        assert_eq!(Message::parse(&long), Err(ParseError::TrailingData));
        // A header claiming 65535 questions in a small packet.
        let mut p = wire.clone();
        p[4] = 0xff;
        p[5] = 0xff;
        assert_eq!(Message::parse(&p), Err(ParseError::Truncated));
    }

    #[test]
    fn long_labels_and_names_are_rejected() {
        let head = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut p = head.to_vec();
        p.push(64);
        p.extend_from_slice(&[b'a'; 64]);
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&p), Err(ParseError::BadLabel));
        // 4 labels of 63 bytes: 257 bytes on the wire.
        let mut p = head.to_vec();
        for _ in 0..4 {
            p.push(63);
            p.extend_from_slice(&[b'a'; 63]);
        }
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&p), Err(ParseError::NameTooLong));
        // Exactly 255: 3 x 63 + 61, plus length bytes and root.
        let labels = [
            vec![b'a'; 63],
            vec![b'b'; 63],
            vec![b'c'; 63],
            vec![b'd'; 61],
        ];
        let n = Name::from_labels(&labels).unwrap();
        assert_eq!(n.wire_len(), 255);
        let mut l2 = labels.clone();
        l2[3].push(b'e');
        assert_eq!(Name::from_labels(&l2), None);
        assert_eq!(Name::from_labels([vec![b'a'; 64]]), None);
        assert_eq!(Name::from_dotted("a..b"), None);
        // And a pointer chain that grows past 255 is refused too.
        let mut p = head.to_vec();
        p[5] = 2;
        p.push(63);
        p.extend_from_slice(&[b'a'; 63]);
        p.extend_from_slice(&[63]);
        p.extend_from_slice(&[b'b'; 63]);
        p.extend_from_slice(&[63]);
        p.extend_from_slice(&[b'c'; 63]);
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        p.push(63);
        p.extend_from_slice(&[b'd'; 63]);
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&p), Err(ParseError::NameTooLong));
    }

    #[test]
    fn encode_truncates_whole_records_and_keeps_opt() {
        let mut m = query("web", TYPE_A);
        let name = m.questions[0].name.clone();
        for i in 0..100 {
            m.answers
                .push(Record::a(name.clone(), 60, Ipv4Addr::new(10, 0, 0, i)));
        }
        m.additional.push(Record::opt(1232, 0));
        let wire = m.encode(512);
        assert!(wire.len() <= 512);
        let back = Message::parse(&wire).unwrap();
        assert!(back.header.tc);
        assert!(back.answers.len() < 100 && !back.answers.is_empty());
        assert_eq!(back.answers[..], m.answers[..back.answers.len()]);
        assert_eq!(back.opt(), m.opt());
        let full = Message::parse(&m.encode(65535)).unwrap();
        assert!(!full.header.tc);
        assert_eq!(full, m);
    }

    #[test]
    fn opt_keeps_its_place() {
        // Found by the fuzzer: an OPT record before another additional record.
        let mut m = query("web", TYPE_A);
        m.additional = vec![
            Record::opt(512, 0),
            Record::a(Name::root(), 0, Ipv4Addr::LOCALHOST),
        ];
        assert_eq!(Message::parse(&m.encode(512)).unwrap(), m);
        // Cut: the A record goes, the OPT stays.
        let wire = m.encode(12 + 8 + 11 + 15);
        let back = Message::parse(&wire).unwrap();
        assert!(back.header.tc);
        assert_eq!(back.additional, m.additional[..1]);
    }

    #[test]
    fn names_print_and_lowercase() {
        let n = Name::from_labels([&b"We.b"[..], b"x y"]).unwrap();
        assert_eq!(n.to_string(), "We\\.b.x\\032y.");
        assert_eq!(n.to_lowercase_dotted(), None);
        assert_eq!(
            Name::from_dotted("WeB.Net.")
                .unwrap()
                .to_lowercase_dotted()
                .as_deref(),
            Some("web.net")
        );
        assert_eq!(Name::root().to_string(), ".");
        assert_eq!(Name::root().to_lowercase_dotted(), None);
    }

    fn arb_name() -> impl Strategy<Value = Name> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 0..6)
            .prop_filter_map("valid name", Name::from_labels)
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            arb_name(),
            any::<u32>(),
            prop_oneof![
                any::<[u8; 4]>().prop_map(|b| (TYPE_A, RData::A(b.into()))),
                arb_name().prop_map(|n| (TYPE_PTR, RData::Ptr(n))),
                (16u16..28, prop::collection::vec(any::<u8>(), 0..30))
                    .prop_map(|(t, b)| (t, RData::Other(b))),
            ],
        )
            .prop_map(|(name, ttl, (rtype, data))| Record {
                name,
                rtype,
                class: CLASS_IN,
                ttl,
                data,
            })
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(m) = Message::parse(&bytes) {
                // Whatever parses encodes to something that parses to the same message
                // (the encoding may differ: compression is ours).
                let again = Message::parse(&m.encode(65535)).unwrap();
                prop_assert_eq!(again, m);
            }
            let _ = parse_questions(&bytes);
        }

        #[test]
        fn messages_round_trip(
            id in any::<u16>(),
            flags in any::<u16>(),
            questions in prop::collection::vec((arb_name(), any::<u16>(), any::<u16>()), 0..3),
            answers in prop::collection::vec(arb_record(), 0..5),
            authority in prop::collection::vec(arb_record(), 0..3),
        ) {
            let m = Message {
                header: Header::from_flags(id, flags),
                questions: questions.into_iter().map(|(name, qtype, qclass)| Question { name, qtype, qclass }).collect(),
                answers,
                authority,
                additional: vec![],
            };
            let wire = m.encode(65535);
            prop_assert_eq!(Message::parse(&wire).unwrap(), m.clone());
            let small = m.encode(512);
            prop_assert!(small.len() <= 512);
            let back = Message::parse(&small).unwrap();
            prop_assert_eq!(&back.answers[..], &m.answers[..back.answers.len()]);
            prop_assert_eq!(back.header.tc, m.header.tc || back.answers.len() + back.authority.len() < m.answers.len() + m.authority.len());
        }
    }
}

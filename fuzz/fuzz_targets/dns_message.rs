//! Arbitrary bytes as a DNS packet from a container: the parser must return without
//! panicking, and whatever it accepts encodes back to the same message. The name server's
//! answer to the bytes (over UDP and TCP) must parse, carry the packet's ID, stay within
//! the size the transport allows, and never be sent for a response.

#![no_main]

use std::net::Ipv4Addr;

use berth_network::dns::message::{Header, Message};
use berth_network::dns::{respond, Lookup, Records, Response, Transport};
use libfuzzer_sys::fuzz_target;

struct Fixed;

impl Records for Fixed {
    fn lookup(&self, _server: Ipv4Addr, name: &str) -> Lookup {
        match name {
            "web" | "alias.web" => Lookup::Found(vec![Ipv4Addr::new(10, 67, 0, 2)]),
            "many" => Lookup::Found((0..=255).map(|i| Ipv4Addr::new(10, 67, 1, i)).collect()),
            n if n.ends_with(".internal") => Lookup::NoSuchName,
            _ => Lookup::NotOurs,
        }
    }
    fn reverse(&self, _server: Ipv4Addr, ip: Ipv4Addr) -> Option<String> {
        (ip == Ipv4Addr::new(10, 67, 0, 2)).then(|| "web".to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let again = Message::parse(&m.encode(65535)).expect("our encoding parses");
        assert_eq!(again, m);
    }
    let header = Header::parse(data);
    for (t, max) in [(Transport::Udp, 4096), (Transport::Tcp, 65535)] {
        match respond(data, Ipv4Addr::new(10, 67, 0, 1), &Fixed, t) {
            Response::Reply(r) => {
                let h = header.expect("a reply to a packet without a header");
                assert!(!h.qr, "a reply to a response");
                assert!(r.len() <= max);
                let m = Message::parse(&r).expect("our reply parses");
                assert_eq!(m.header.id, h.id);
                assert!(m.header.qr);
                if t == Transport::Udp && Message::parse(data).is_ok_and(|q| q.opt().is_none()) {
                    assert!(r.len() <= 512);
                }
            }
            Response::Forward(f) => {
                assert_eq!(f.packet, data);
                assert!(!header.expect("forwarding a packet without a header").qr);
            }
            Response::Drop => assert!(header.is_none_or(|h| h.qr)),
        }
    }
});

//! The address policy: which resolved addresses may be connected to.

use super::Admission;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which addresses a request may connect to after DNS resolution.
///
/// The allow-list decides on names; this decides on the addresses those names resolve to, so
/// an allowed name that resolves to an internal address (DNS rebinding, a stale record, a
/// hostile zone) cannot reach the embedder's own network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Refuse loopback, private, link-local, unique-local, shared (CGNAT), unspecified,
    /// multicast and reserved addresses, unless the allow-list entry that admitted the request
    /// names that IP address literally, or names `localhost` (then loopback is allowed).
    /// The default: the safe choice for untrusted guests.
    #[default]
    PublicOnly,
    /// Connect to whatever the name resolves to.
    AllowAll,
}

impl AddressPolicy {
    /// Whether `ip` may be connected to for a request admitted by `admission`.
    pub(crate) fn permits(self, ip: IpAddr, admission: &Admission) -> bool {
        match self {
            AddressPolicy::AllowAll => true,
            AddressPolicy::PublicOnly => {
                let ip = canonical(ip);
                !is_internal(ip)
                    || admission.any_address
                    || admission.literal_ip.map(canonical) == Some(ip)
                    || (admission.localhost && ip.is_loopback())
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are IPv4 addresses for every purpose here.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Addresses that are not on the public internet.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network", 0.0.0.0/8
        || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18.0.0/15
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (seg[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (seg[0] & 0xffc0) == 0xfec0 // deprecated site-local, fec0::/10
        || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
        || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1) // local-use NAT64, 64:ff9b:1::/48
        // 6to4 (2002::/16) embeds an IPv4 address in its second and third segments.
        || seg[0] == 0x2002
            && is_internal_v4(Ipv4Addr::new(
                (seg[1] >> 8) as u8,
                seg[1] as u8,
                (seg[2] >> 8) as u8,
                seg[2] as u8,
            ))
        // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) addresses embed an IPv4 address.
        || (seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[..6] == [0; 6])
            && is_internal_v4(Ipv4Addr::new(
                (seg[6] >> 8) as u8,
                seg[6] as u8,
                (seg[7] >> 8) as u8,
                seg[7] as u8,
            ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn literal_entries_open_exactly_their_address() {
        let p = AddressPolicy::PublicOnly;
        let literal = Admission {
            literal_ip: Some(ip("127.0.0.1")),
            localhost: false,
            any_address: false,
        };
        assert!(p.permits(ip("127.0.0.1"), &literal));
        assert!(p.permits(ip("::ffff:127.0.0.1"), &literal));
        assert!(!p.permits(ip("127.0.0.2"), &literal));
        assert!(!p.permits(ip("127.0.0.1"), &Admission::default()));
        let localhost = Admission {
            literal_ip: None,
            localhost: true,
            any_address: false,
        };
        assert!(p.permits(ip("::1"), &localhost));
        assert!(!p.permits(ip("10.0.0.1"), &localhost));
        assert!(AddressPolicy::AllowAll.permits(ip("10.0.0.1"), &Admission::default()));
        assert!(p.permits(ip("8.8.8.8"), &Admission::default()));
        // The egress proxy's opt-in (`proxy_allow_internal`).
        let any = Admission {
            any_address: true,
            ..Admission::default()
        };
        assert!(p.permits(ip("10.0.0.1"), &any) && p.permits(ip("::1"), &any));
    }
}

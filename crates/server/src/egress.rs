//! Where webhooks may be sent. By default only to public addresses: a tenant must not be able to
//! make the server POST to the network it runs in — a cloud metadata service at 169.254.169.254,
//! an admin port on localhost, a database on 10.0.0.5. A URL naming such an address is refused
//! when the webhook is registered; a name is checked each time it is resolved for a delivery (so
//! a name that later points inside is refused too), and only its public addresses are used.
//! `--webhook-allow-private` lifts both, for self-hosted setups whose receivers are local.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is reachable on the public internet: not loopback, private, link-local,
/// carrier-grade NAT, unspecified, broadcast, multicast, documentation, benchmarking or reserved
/// (IPv4-mapped IPv6 addresses are judged by their IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved, and broadcast
    !(special
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_documentation())
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Forms that carry an IPv4 address a gateway may forward to: judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let [first, second, ..] = ip.segments();
    let special = (first == 0x2001 && (second == 0x0db8 || second == 0)) // documentation, Teredo
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]); // discard-only
    !(special
        || ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local())
}

/// The IPv4 address inside IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`,
/// `64:ff9b:1::/48`) and 6to4 (`2002::/16`) addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = ip.octets();
    let segments = ip.segments();
    let last_four = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(last_four);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..3] == [0x64, 0xff9b, 1] {
        return Some(last_four);
    }
    if segments[0] == 0x2002 {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

/// Refuses a URL whose host is an IP address that is not public. Names pass here: they are
/// checked when they are resolved ([`PublicOnly`]).
pub fn check_url(url: &str) -> Result<(), String> {
    let Ok(url) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    // The URL parser has already normalised forms such as `http://2130706433/` to 127.0.0.1.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => Err(format!(
            "{ip} is a private or local address: webhooks go to public addresses unless the \
             server runs with --webhook-allow-private"
        )),
        _ => Ok(()),
    }
}

/// Resolves names for webhook deliveries to their public addresses only; a name with none
/// fails to resolve, and the delivery's attempt records why.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // One answer whether the name is unknown or only inside: the attempt log, which the
            // tenant reads, must not tell which names exist on the server's network.
            let refused = || -> Box<dyn std::error::Error + Send + Sync> {
                format!(
                    "{host} has no public address (webhooks go to public addresses unless the \
                     server runs with --webhook-allow-private)"
                )
                .into()
            };
            let found: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(found) => found.collect(),
                Err(_) => return Err(refused()),
            };
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(refused());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.10",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "fec0::1",
            "2001::1",
            "100::1",
        ] {
            let ip: IpAddr = inside.parse().expect("an address");
            assert!(!is_public(ip), "{inside}");
        }
        for outside in [
            "93.184.216.34",
            "1.1.1.1",
            "100.128.0.1",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            let ip: IpAddr = outside.parse().expect("an address");
            assert!(is_public(ip), "{outside}");
        }
    }

    #[test]
    fn urls_naming_inside_addresses_are_refused_and_names_wait_for_resolution() {
        for refused in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://2130706433/hook",
            "http://0x7f.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.0.1]/",
        ] {
            assert!(check_url(refused).is_err(), "{refused}");
        }
        for passed in [
            "https://example.com/hook",
            "http://localhost:9/",
            "https://1.1.1.1/",
        ] {
            assert_eq!(check_url(passed), Ok(()), "{passed}");
        }
    }
}

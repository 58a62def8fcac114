//! IP addresses as Elasticsearch's `ip` field holds them: 128 bits, an IPv4
//! address stored as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so the two
//! spellings are one address and every address orders by its bits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address as its 128 bits (IPv4 mapped into IPv6).
///
/// ```
/// use eql_plan::mapping::{ip_bits, ip_text};
/// assert_eq!(ip_bits("10.0.0.1"), ip_bits("::ffff:10.0.0.1"));
/// assert_eq!(ip_text(ip_bits("::ffff:10.0.0.1").unwrap()), "10.0.0.1");
/// assert_eq!(ip_bits("10.0.0.256"), None);
/// ```
pub fn ip_bits(s: &str) -> Option<u128> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(u128::from(a.to_ipv6_mapped())),
        IpAddr::V6(a) => Some(u128::from(a)),
    }
}

/// The text of an address: dotted IPv4 for an IPv4-mapped address, RFC 5952
/// IPv6 otherwise (what Elasticsearch returns for an `ip` value).
pub fn ip_text(bits: u128) -> String {
    let a = Ipv6Addr::from(bits);
    match a.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => a.to_string(),
    }
}

/// The first and last address of `a.b.c.d/n` or `v6/n`, or of a single
/// address.
///
/// ```
/// use eql_plan::mapping::{cidr_range, ip_bits};
/// let (lo, hi) = cidr_range("10.0.0.0/8").unwrap();
/// assert_eq!((Some(lo), Some(hi)), (ip_bits("10.0.0.0"), ip_bits("10.255.255.255")));
/// assert_eq!(cidr_range("10.0.0.1"), ip_bits("10.0.0.1").map(|x| (x, x)));
/// assert_eq!(cidr_range("10.0.0.0/33"), None);
/// ```
pub fn cidr_range(s: &str) -> Option<(u128, u128)> {
    let Some((addr, len)) = s.split_once('/') else {
        let x = ip_bits(s)?;
        return Some((x, x));
    };
    if len.is_empty() || !len.bytes().all(|c| c.is_ascii_digit()) || len.len() > 3 {
        return None;
    }
    let n: u32 = len.parse().ok()?;
    let prefix = match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) if n > 32 => return None,
        IpAddr::V4(_) => n + 96,
        IpAddr::V6(_) if n > 128 => return None,
        IpAddr::V6(_) => n,
    };
    let bits = ip_bits(addr)?;
    let host = if prefix == 0 {
        u128::MAX
    } else {
        u128::MAX.checked_shr(prefix).unwrap_or(0)
    };
    Some((bits & !host, bits | host))
}

/// True when `s` is an IPv4 address written as Elasticsearch writes it.
pub(crate) fn is_v4(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks() {
        let (lo, hi) = cidr_range("fe80::/10").unwrap();
        assert_eq!(Some(lo), ip_bits("fe80::"));
        assert_eq!(Some(hi), ip_bits("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(
            cidr_range("0.0.0.0/0").map(|r| r.1),
            ip_bits("255.255.255.255")
        );
        assert_eq!(cidr_range("::/0"), Some((0, u128::MAX)));
        assert_eq!(ip_text(ip_bits("0:0:0:0:0:0:0:1").unwrap()), "::1");
        assert!(is_v4("127.0.0.1") && !is_v4("::1"));
        assert_eq!(ip_bits("cmd.exe"), None);
        assert_eq!(cidr_range("10.0.0.0/"), None);
    }
}

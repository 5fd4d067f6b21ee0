//! The connect-time address policy: every name an upstream URL uses is resolved by
//! [`GuardedResolver`], which drops link-local and cloud-metadata addresses before the
//! client connects. Because the check runs on the addresses actually used for the
//! connection, a name that resolved to a public address when the provider was saved and to
//! `169.254.169.254` later (DNS rebinding) cannot reach the metadata service. Loopback and
//! private ranges are allowed by default (private model servers are the main use of a
//! gateway); a resolver built with `allow_private: false` drops them too — the org policy
//! for providers created by non-admins.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Addresses no upstream may use: link-local (v4 and v6, which holds most cloud metadata
/// endpoints), the AWS IPv6 and Alibaba metadata addresses, and the unspecified address.
pub fn is_always_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => {
                (v6.segments()[0] & 0xffc0) == 0xfe80
                    || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                    || v6.is_unspecified()
            }
        },
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local() || v4.octets() == [100, 100, 100, 200] || v4.is_unspecified()
}

/// Loopback, private (RFC 1918, unique-local), shared (CGNAT) and unspecified addresses.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        },
    }
}

fn private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback() || v4.is_private() || (a == 100 && (64..128).contains(&b))
}

/// Whether a connection may use `ip`.
pub fn permitted(ip: IpAddr, allow_private: bool) -> bool {
    !is_always_forbidden(ip) && (allow_private || !is_private(ip))
}

/// The addresses a connection may use.
pub fn allowed(
    addrs: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
) -> Vec<SocketAddr> {
    addrs
        .into_iter()
        .filter(|a| permitted(a.ip(), allow_private))
        .collect()
}

#[derive(Debug, thiserror::Error)]
#[error("'{0}' resolves only to addresses an upstream may not use")]
pub struct ForbiddenAddress(String);

/// The HTTP client's resolver: the system resolver, filtered by [`permitted`].
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let usable = allowed(found, allow_private);
            if usable.is_empty() {
                return Err(
                    Box::new(ForbiddenAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    #[test]
    fn forbidden_and_allowed_addresses() {
        let forbidden = [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::",
        ];
        for ip in forbidden {
            assert!(is_always_forbidden(ip.parse().unwrap()), "{ip}");
        }
        let allowed_ips = [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.10",
            "8.8.8.8",
            "::1",
            "fd12::1",
        ];
        for ip in allowed_ips {
            assert!(!is_always_forbidden(ip.parse().unwrap()), "{ip}");
        }
        let mixed: Vec<SocketAddr> = vec![
            "169.254.169.254:80".parse().unwrap(),
            "10.1.2.3:80".parse().unwrap(),
        ];
        assert_eq!(
            allowed(mixed.clone(), true),
            vec!["10.1.2.3:80".parse::<SocketAddr>().unwrap()]
        );
        assert!(allowed(mixed, false).is_empty());
        for ip in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860::8888", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn resolver_keeps_loopback() {
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let open = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<SocketAddr> = open.resolve(name).await.unwrap().collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        let strict = GuardedResolver {
            allow_private: false,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err());
    }
}

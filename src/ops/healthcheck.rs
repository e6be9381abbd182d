//! `orchard healthcheck`: asks the local server's `/healthz` over TLS, trusting only the
//! appliance CA from the data directory. For Docker `HEALTHCHECK` and systemd watchdogs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, pem::PemObject};

use crate::config::Config;
use crate::pki::ca;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("cannot read the appliance CA {path}: {message}")]
    Ca { path: String, message: String },
    #[error("the listen address `{0}` is not an address")]
    Listen(String),
    #[error("{url} did not answer: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Unhealthy { url: String, status: u16, body: String },
}

/// Where to connect: the listen address, with an unspecified address (0.0.0.0, ::) replaced by
/// the loopback address of the same family.
pub fn target_addr(listen: &str) -> Result<SocketAddr, HealthError> {
    let addr = listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| HealthError::Listen(listen.to_string()))?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, addr.port()))
}

/// The host name to ask for: one the server certificate covers (`localhost` when it is one of
/// the names, else the first DNS name); `None` to use the address itself.
fn host_name(config: &Config) -> Option<String> {
    let names = config.tls_names();
    if names.iter().any(|n| n == "localhost") {
        return Some("localhost".into());
    }
    names.into_iter().find(|n| n.parse::<IpAddr>().is_err())
}

fn client(
    config: &Config,
    host: Option<(&str, SocketAddr)>,
    timeout: Duration,
) -> Result<reqwest::Client, HealthError> {
    let path = ca::pki_dir(&config.storage.data_dir).join("ca.crt.pem");
    let ca_err = |message: String| HealthError::Ca {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(&path).map_err(|e| ca_err(e.to_string()))?;
    let der = CertificateDer::from_pem_slice(&pem).map_err(|e| ca_err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).map_err(|e| ca_err(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .no_proxy();
    if let Some((name, addr)) = host {
        builder = builder.resolve(name, addr);
    }
    builder.build().map_err(|e| ca_err(e.to_string()))
}

/// Calls `/healthz`; `Ok` with the URL asked when it answered 200.
pub async fn check(config: &Config, timeout: Duration) -> Result<String, HealthError> {
    let addr = target_addr(&config.server.listen)?;
    let name = host_name(config);
    let url = match &name {
        Some(name) => format!("https://{name}:{}/healthz", addr.port()),
        None => format!("https://{addr}/healthz"),
    };
    let client = client(config, name.as_deref().map(|n| (n, addr)), timeout)?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| HealthError::Unreachable {
            url: url.clone(),
            message: error_chain(&e),
        })?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(url);
    }
    let body = response.text().await.unwrap_or_default();
    Err(HealthError::Unhealthy {
        url,
        status,
        body: body.trim().chars().take(200).collect(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_become_loopback() {
        assert_eq!(
            target_addr("0.0.0.0:8443").unwrap(),
            "127.0.0.1:8443".parse().unwrap()
        );
        assert_eq!(target_addr("[::]:443").unwrap(), "[::1]:443".parse().unwrap());
        assert_eq!(target_addr("10.1.2.3:9").unwrap(), "10.1.2.3:9".parse().unwrap());
        assert!(target_addr("no port").is_err());
    }
}

//! TLS for `https`/`wss` base URLs: the REST client's configuration, with HTTP/1.1 ALPN.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The `wss` configuration for streams of `client`: the client's own TLS
/// configuration (the same root store, a user-supplied CA included) with
/// ALPN `http/1.1` (the upgrade is HTTP/1.1 only).
pub(crate) fn websocket_config(
    client: &clickclack_client::Client,
) -> Result<Arc<ClientConfig>, crate::Error> {
    let shared = client
        .tls_client_config()
        .map_err(|e| crate::Error::Tls(e.to_string()))?;
    let mut config = (*shared).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs the TLS handshake for `host` over `tcp`.
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, std::io::Error> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    TlsConnector::from(config).connect(name, tcp).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_config_is_the_clients_with_http11_alpn() {
        let client = clickclack_client::Client::builder("https://chat.example.com")
            .build()
            .expect("client");
        let config = websocket_config(&client).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // The REST client's own configuration is untouched.
        assert!(
            client
                .tls_client_config()
                .expect("tls")
                .alpn_protocols
                .is_empty()
        );
    }
}

//! `wss://` through a private CA: the stream trusts exactly what the REST
//! client trusts (one TLS configuration, the user-supplied CA included).
//!
//! A small TLS terminator with a certificate signed by a test-only CA
//! (`tests/fixtures/tls`) sits in front of the testkit on loopback.

mod support;

use std::sync::Arc;

use clickclack_client::{Client, TlsRoots, TlsSettings};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use support::*;

const CA: &[u8] = include_bytes!("fixtures/tls/ca.pem");
const CERT: &[u8] = include_bytes!("fixtures/tls/server.pem");
const KEY: &[u8] = include_bytes!("fixtures/tls/server.key");

/// Terminates TLS on a loopback port and forwards to `backend`; returns
/// `https://localhost:<port>`.
async fn tls_front(backend: std::net::SocketAddr) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<_, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    format!("https://localhost:{port}")
}

#[tokio::test]
async fn a_private_ca_given_to_the_client_also_secures_the_websocket() {
    let server = clickclack_testkit::TestServer::start().await;
    let seed = server.seed();
    let url = tls_front(server.addr()).await;
    let tls = TlsSettings::new(TlsRoots::WebPki)
        .add_pem_certificates(CA)
        .expect("ca");
    let client = Client::builder(&url)
        .token(seed.bot.token.clone())
        .tls(tls)
        .retry_policy(clickclack_client::RetryPolicy::none())
        .build()
        .expect("client");
    // REST (the tail fetch inside start) and the socket both go through TLS.
    let mut stream = builder(client, seed.workspace.id.clone())
        .start()
        .await
        .expect("start over https");
    next_connected(&mut stream).await;
    let posted = server.post_message(&seed.owner.user.id, &seed.general.id, "over wss");
    assert_eq!(
        message_id(&next_event(&mut stream).await),
        posted.id.as_str()
    );
}

#[tokio::test]
async fn without_the_ca_the_websocket_refuses_the_server() {
    let server = clickclack_testkit::TestServer::start().await;
    let seed = server.seed();
    let url = tls_front(server.addr()).await;
    let client = Client::builder(&url)
        .token(seed.bot.token.clone())
        .retry_policy(clickclack_client::RetryPolicy::none())
        .build()
        .expect("client");
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");
    let mut stream = builder(client, seed.workspace.id.clone())
        .start_after(tail)
        .start()
        .await
        .expect("start");
    let reason = connect_failure(&mut stream).await;
    assert!(reason.contains("TLS handshake failed"), "{reason}");
}

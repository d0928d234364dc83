//! Plain `http://` to a host that is not loopback logs one warning (the bot
//! token would travel unencrypted); loopback and `https://` stay quiet, and
//! requests do not repeat it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clickclack_client::{Client, RequestBody};
use http::{Request, Response};
use http_body_util::Full;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

const WARNING: &str = "plain http://";

fn ok_transport() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(|_req: Request<RequestBody>| async {
        Ok(Response::new(Full::new(Bytes::from_static(
            br#"{"user":{"id":"usr_1","kind":"bot","display_name":"b","handle":"b","avatar_url":"","created_at":"2026-01-01T00:00:00Z"}}"#,
        ))))
    })
}

#[tokio::test]
async fn plain_http_to_a_remote_host_warns_once() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    for quiet in [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://chat.example.com",
    ] {
        let c = Client::builder(quiet)
            .token("ccb_quiet_token_value")
            .transport(ok_transport())
            .build()
            .expect("builds");
        c.me().await.expect("me");
        assert!(!out.text().contains(WARNING), "{quiet}: {}", out.text());
    }

    let c = Client::builder("http://chat.example.com")
        .token("ccb_loud_token_value")
        .transport(ok_transport())
        .build()
        .expect("builds");
    for _ in 0..3 {
        c.me().await.expect("me");
    }
    let text = out.text();
    assert_eq!(text.matches(WARNING).count(), 1, "{text}");
    assert!(text.contains("chat.example.com"), "{text}");
    assert!(!text.contains("ccb_loud_token_value"), "{text}");
}

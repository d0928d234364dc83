//! A hand-written WebSocket server side of the upgrade, for tests that need
//! to send frames the testkit never would.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How the raw server answers the upgrade.
#[derive(Clone, Copy)]
pub enum Accept {
    /// The key RFC 6455 derives from the request.
    Correct,
    /// A key that does not match (the client must refuse it).
    Wrong,
}

/// Reads the request head and answers 101. Returns the request head.
pub async fn handshake(sock: &mut TcpStream, accept: Accept) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let key = match accept {
        Accept::Correct => key,
        Accept::Wrong => "not-the-key".to_owned(),
    };
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    head
}

/// An unmasked server frame header for `len` payload bytes.
pub fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match len {
        n if n < 126 => out.push(n as u8),
        n if n <= u64::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out
}

/// An unmasked server frame carrying `payload`.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, opcode, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A `message.created` event numbered `n` (cursor `cur_<n>`), with `payload`
/// or a valid one.
pub fn event_json(n: u64, payload: Option<&serde_json::Value>) -> String {
    let good = serde_json::json!({ "message_id": format!("msg_{n:010}"), "author_id": "usr_raw" });
    serde_json::json!({
        "id": format!("evt_{n:010}"),
        "cursor": format!("cur_{n:010}"),
        "type": "message.created",
        "workspace_id": "wsp_raw",
        "channel_id": "chn_raw",
        "seq": n,
        "created_at": "2026-05-08T12:00:00.123456789Z",
        "payload": payload.unwrap_or(&good),
    })
    .to_string()
}

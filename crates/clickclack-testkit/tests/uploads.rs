//! Uploads: multipart, nonce replay, by-nonce, download headers, attachments.

mod common;
use bytes::Bytes;
use common::*;
use serde_json::json;

/// `(field name, Some((filename, content type)) for files, data)`.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Bytes) {
    let boundary = "XBOUNDARYX";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, ct)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    )
}

async fn upload(server: &TestServer, token: &str, query: &str, ct: &str, body: Bytes) -> Resp {
    let auth = format!("Bearer {token}");
    send(
        server.addr(),
        http::Method::POST,
        &format!("/api/uploads{query}"),
        &[("authorization", &auth), ("content-type", ct)],
        body,
    )
    .await
}

#[tokio::test]
async fn upload_replay_download_attach() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws = seed.workspace.id.as_str();
    let token = &seed.bot.token;

    // workspace_id after the file → 400.
    let (ct, body) = multipart(&[
        ("file", Some(("a.txt", "text/plain")), b"hello"),
        ("workspace_id", None, ws.as_bytes()),
    ]);
    let r = upload(&server, token, "", &ct, body).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (
            400,
            "workspace_id must precede file or be provided as a query parameter"
        )
    );

    // Field before the file works.
    let (ct, body) = multipart(&[
        ("workspace_id", None, ws.as_bytes()),
        ("width", None, b"10"),
        ("file", Some(("a.png", "image/png")), b"\x89PNG...."),
    ]);
    let r = upload(&server, token, "", &ct, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let up = r.json()["upload"].clone();
    assert_eq!(up["filename"], "a.png");
    assert_eq!(up["byte_size"], 8);
    assert_eq!(up["width"], 10);
    let id = up["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("upl_"));

    // Nonce replay returns 200 without reading the body.
    let q = format!("?workspace_id={ws}&nonce=up-1");
    let (ct, body) = multipart(&[("file", Some(("b.bin", "application/octet-stream")), b"abc")]);
    let r = upload(&server, token, &q, &ct, body.clone()).await;
    assert_eq!(r.status, 201);
    let first = r.json()["upload"]["id"].clone();
    let r = upload(
        &server,
        token,
        &q,
        "text/plain",
        Bytes::from_static(b"garbage"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["upload"]["id"], first);
    let r = get(
        &server,
        &format!("/api/uploads/by-nonce?workspace_id={ws}&nonce=up-1"),
        token,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-clickclack-upload-nonce"), Some("supported"));
    let r = get(
        &server,
        &format!("/api/uploads/by-nonce?workspace_id={ws}&nonce=nope"),
        token,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-clickclack-upload-nonce"), Some("supported"));

    // Download headers.
    let r = get(&server, &format!("/api/uploads/{id}"), token).await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"\x89PNG....");
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    let r = get(
        &server,
        &format!("/api/uploads/{}", first.as_str().unwrap()),
        token,
    )
    .await;
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );

    // Attach via upload_id on create and via /attachments.
    let r = post(
        &server,
        &format!("/api/channels/{}/messages", seed.general.id),
        token,
        json!({ "body": "see file", "upload_id": id }),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["message"]["attachments"][0]["id"], id.as_str());
    let mid = r.json()["message"]["id"].as_str().unwrap().to_owned();
    let r = post(
        &server,
        &format!("/api/messages/{mid}/attachments"),
        token,
        json!({ "upload_id": first }),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "ok": true }));
    let human = server.post_message(&seed.owner.user.id, &seed.general.id, "mine");
    let r = post(
        &server,
        &format!("/api/messages/{}/attachments", human.id),
        token,
        json!({ "upload_id": first }),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (
            403,
            "message attachments can only be changed by the message author"
        )
    );
}

/// The types of the retained events about message `id`, oldest first.
async fn event_types_of(server: &TestServer, ws: &str, token: &str, id: &str) -> Vec<String> {
    let r = get(
        server,
        &format!("/api/realtime/events?workspace_id={ws}"),
        token,
    )
    .await;
    r.json()["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["payload"]["message_id"] == id)
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_older_server_links_uploads_after_the_create_with_one_update_each() {
    let server = TestServer::builder()
        .legacy_attachment_links()
        .start()
        .await
        .expect("server");
    let seed = server.seed();
    let (owner, ws, general) = (&seed.owner.user.id, &seed.workspace.id, &seed.general.id);
    let token = &seed.bot.token;
    let a = server.upload(owner, ws, "a.png", "image/png", b"\x89PNG");
    let b = server.upload(owner, ws, "b.png", "image/png", b"\x89PNG");
    // `upload_id` in the create is an unknown field to it.
    let m = server.post_message_with_upload(owner, general, "two files", &a.id);
    assert!(m.attachments.is_empty());
    server.link_upload(owner, &m.id, &a.id);
    server.link_upload(owner, &m.id, &b.id);
    server.link_upload(owner, &m.id, &b.id); // already linked: no event
    assert_eq!(
        event_types_of(&server, ws.as_str(), token, m.id.as_str()).await,
        ["message.created", "message.updated", "message.updated"]
    );
    let r = get(&server, &format!("/api/messages/{}", m.id), token).await;
    assert_eq!(
        r.json()["message"]["attachments"].as_array().map(Vec::len),
        Some(2)
    );

    // A current server attaches in the create and emits nothing on a link.
    server.set_legacy_attachment_links(false);
    let c = server.upload(owner, ws, "c.png", "image/png", b"\x89PNG");
    let n = server.post_message_with_upload(owner, general, "one file", &c.id);
    assert_eq!(n.attachments.len(), 1);
    server.link_upload(owner, &n.id, &b.id);
    assert_eq!(
        event_types_of(&server, ws.as_str(), token, n.id.as_str()).await,
        ["message.created"]
    );
}

mod common;
use common::*;
use serde_json::json;
use std::time::Instant;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status").unwrap().lines()
        .find(|l| l.starts_with("VmRSS")).unwrap()
        .split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perf() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str().to_owned();
    let t = tail(&server, &ws_id, &seed.bot.token).await.unwrap();
    let before = rss_kb();
    let mut socks = Vec::new();
    for _ in 0..400 {
        socks.push(ws(&server, &ws_id, &seed.bot.token, Some(&t)).await);
    }
    let after = rss_kb();
    eprintln!("400 idle sockets (client+server in-process): {} KiB total, {} B/conn", after - before, (after - before) * 1024 / 400);
    drop(socks);
    // 64 concurrent senders x 200 messages over keep-alive connections
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..64 {
        let addr = server.addr();
        let token = seed.bot.token.clone();
        let ch = seed.general.id.as_str().to_owned();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
            tokio::spawn(conn);
            for i in 0..200 {
                let body = json!({"body": format!("s{s} m{i}"), "nonce": format!("{s}-{i}")}).to_string();
                let req = http::Request::post(format!("/api/channels/{ch}/messages"))
                    .header("host", "x").header("authorization", format!("Bearer {token}"))
                    .body(http_body_util::Full::new(bytes::Bytes::from(body))).unwrap();
                let r = sender.send_request(req).await.unwrap();
                assert_eq!(r.status(), 201);
                use http_body_util::BodyExt;
                let _ = r.into_body().collect().await.unwrap();
            }
        }));
    }
    for t in tasks { t.await.unwrap(); }
    eprintln!("12800 sends by 64 senders: {:?}", start.elapsed());
    for i in 0..37200 { server.post_message(&seed.owner.user.id, &seed.general.id, &format!("{i}")); }
    let start = Instant::now();
    let mut after: Option<String> = None;
    let mut n = 0;
    loop {
        let mut path = format!("/api/realtime/events?workspace_id={ws_id}&limit=500");
        if let Some(a) = &after { path.push_str(&format!("&after_cursor={a}")); }
        let r = get(&server, &path, &seed.bot.token).await.json();
        let evs = r["events"].as_array().unwrap();
        if evs.is_empty() { break; }
        n += evs.len();
        after = Some(evs.last().unwrap()["cursor"].as_str().unwrap().to_owned());
    }
    eprintln!("replayed {n} events over REST in {:?}", start.elapsed());
}

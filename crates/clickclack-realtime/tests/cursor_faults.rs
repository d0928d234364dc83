//! Cursor files a real deployment ends up with: ahead of a restored server,
//! emptied by a crash, damaged, or deleted. Every one ends in a known state:
//! a `Resync` and live, or an error naming the file — never a silent gap.

mod support;

use std::sync::Arc;

use clickclack_proto::Cursor;
use clickclack_realtime::{
    ConnectionState, CursorStore, CursorStoreError, Error, FileCursorStore, RealtimeItem,
    ResyncReason,
};

use support::*;

const KEY: &str = "acct.wsp";

/// A cursor that sorts after every cursor the server will issue for a long
/// time: what a bot holds after its server was restored from an older backup.
fn far_ahead() -> Cursor {
    Cursor::new("cur_7zzzzzzzzzzzzzzzzzzzzzzzzz")
}

#[tokio::test]
async fn a_cursor_ahead_of_the_server_resyncs_once_rewrites_the_file_and_goes_live() {
    let (server, seed, client) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileCursorStore::new(dir.path());
    store.save(KEY, &far_ahead()).await.expect("save");
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");

    let mut stream = builder(client, seed.workspace.id.clone())
        .cursor_store(Arc::new(store.clone()))
        .cursor_key(KEY)
        .start()
        .await
        .expect("start");
    assert_eq!(next_connected(&mut stream).await, far_ahead());
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Resync {
            reason: ResyncReason::ResyncRequired { code: 4001, .. },
            previous,
            anchor,
            ..
        })) => {
            assert_eq!(previous, Some(far_ahead()));
            assert_eq!(anchor, tail);
        }
        other => panic!("expected Resync, got {other:?}"),
    }
    // The anchor moved the cursor backwards, in memory and in the file.
    assert_eq!(stream.committed_cursor(), Some(tail.clone()));
    assert_eq!(store.load(KEY).await.expect("load"), Some(tail.clone()));
    assert_eq!(next_connected(&mut stream).await, tail);

    // Live again: new events arrive and commit; a stale commit of the old
    // cursor cannot push the file ahead of the server again.
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = post(&server, &seed, &format!("after restore {i}"));
        let event = next_event(&mut stream).await;
        assert_eq!(message_id(&event), id);
        stream.commit(event.cursor()).await.expect("commit");
        ids.push(event.cursor().clone());
    }
    stream.commit(&far_ahead()).await.expect("stale commit");
    // Commits are written coalesced; `flush` writes the newest one now.
    stream.flush().await.expect("flush");
    assert_eq!(store.load(KEY).await.expect("load"), ids.last().cloned());
    let stats = stream.stats();
    assert_eq!(stats.resyncs, 1);
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.state, ConnectionState::Live);
}

#[tokio::test]
async fn damaged_cursor_files_stop_the_start_with_the_file_and_the_ways_out() {
    let (_server, seed, client) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileCursorStore::new(dir.path());
    let path = store.path_for(KEY);
    let oversized = vec![b'c'; 100_000];
    let cases: [(&str, &[u8]); 4] = [
        ("is empty", b""),
        ("holds only whitespace", b"  \n\n"),
        ("is larger than 4096 bytes", &oversized),
        ("is not UTF-8 text", b"cur_\xff"),
    ];
    for (problem, content) in cases {
        std::fs::write(&path, content).expect("write");
        let err = builder(client.clone(), seed.workspace.id.clone())
            .cursor_store(Arc::new(store.clone()))
            .cursor_key(KEY)
            .start()
            .await
            .expect_err("a damaged cursor file must not start the stream");
        assert!(
            matches!(
                err,
                Error::CursorStore(CursorStoreError::UnusableFile { .. })
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(problem), "{text}");
        assert!(text.contains("delete it"), "{text}");
        assert!(text.contains("restore it"), "{text}");
        // The file is left alone for the operator.
        assert_eq!(std::fs::read(&path).expect("read"), content);
    }
}

#[tokio::test]
async fn a_deleted_cursor_after_a_run_is_reported_loudly_then_the_stream_goes_live() {
    let (server, seed, client) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileCursorStore::new(dir.path());
    // A first run anchors and commits.
    {
        let mut stream = builder(client.clone(), seed.workspace.id.clone())
            .cursor_store(Arc::new(store.clone()))
            .cursor_key(KEY)
            .start()
            .await
            .expect("start");
        next_connected(&mut stream).await;
        post(&server, &seed, "handled");
        let event = next_event(&mut stream).await;
        stream.commit(event.cursor()).await.expect("commit");
        assert_eq!(stream.stats().cursors_lost, 0);
    }
    // Down: messages arrive, and an operator deletes the cursor file.
    post(&server, &seed, "missed while down");
    std::fs::remove_file(store.path_for(KEY)).expect("rm");
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");

    let mut stream = builder(client, seed.workspace.id.clone())
        .cursor_store(Arc::new(store.clone()))
        .cursor_key(KEY)
        .start()
        .await
        .expect("start");
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Resync {
            reason: ResyncReason::CursorLost { location, .. },
            previous: None,
            anchor,
            ..
        })) => {
            assert_eq!(location, store.path_for(KEY).display().to_string());
            assert_eq!(anchor, tail);
        }
        other => panic!("expected a CursorLost resync first, got {other:?}"),
    }
    let stats = stream.stats();
    assert_eq!((stats.cursors_lost, stats.resyncs), (1, 1));
    assert_eq!(next_connected(&mut stream).await, tail);
    let live = post(&server, &seed, "live again");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
    assert_eq!(store.load(KEY).await.expect("load"), Some(tail));
}

#[tokio::test]
async fn a_store_that_never_held_a_cursor_starts_quietly_at_the_tail() {
    let (_server, seed, client) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileCursorStore::new(dir.path());
    let mut stream = builder(client, seed.workspace.id.clone())
        .cursor_store(Arc::new(store))
        .cursor_key(KEY)
        .start()
        .await
        .expect("start");
    assert!(matches!(
        next_item(&mut stream).await,
        Some(Ok(RealtimeItem::Connected { .. }))
    ));
    assert_eq!(stream.stats().cursors_lost, 0);
}

#[tokio::test]
async fn an_older_server_without_tail_cursor_starts_at_the_real_tail_in_a_few_requests() {
    let (server, seed, client) = setup().await;
    server.faults().omit_tail_cursor(true);
    // Deep history: the oldest page is far from the tail.
    for i in 0..300 {
        post(&server, &seed, &format!("history {i}"));
    }
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");
    let before = server.faults().request_count("GET", "/api/realtime/events");
    let mut stream = builder(client, seed.workspace.id.clone())
        .start()
        .await
        .expect("start");
    assert_eq!(stream.committed_cursor(), Some(tail.clone()));
    let requests = server.faults().request_count("GET", "/api/realtime/events") - before;
    // One tail request, a handful of one-page probes, two forward pages.
    assert!(requests <= 12, "{requests} requests to find the tail");
    assert_eq!(next_connected(&mut stream).await, tail);
    let live = post(&server, &seed, "live");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
}

//! Compile-time checks of the public API: auto traits, `Debug`, error sources.

use clickclack_client::{
    Backoff, BotToken, Client, ClientBuilder, Download, EphemeralTarget, Error, ErrorKind, History,
    Idempotency, MembersQuery, PageAnchor, PageRequest, RequestMeta, RetryPolicy, SearchQuery,
    ThreadQuery, TlsRoots, TlsSettings, UploadRequest, UploadSource,
    url::{ApiPath, BaseUrl, Query},
};

fn send_sync<T: Send + Sync + 'static>() {}
fn send<T: Send + 'static>() {}
fn debug<T: std::fmt::Debug>() {}

#[test]
fn public_types_are_send_sync_and_debug() {
    send_sync::<Client>();
    send_sync::<ClientBuilder>();
    send_sync::<Error>();
    send_sync::<ErrorKind>();
    send_sync::<RetryPolicy>();
    send_sync::<Backoff>();
    send_sync::<Idempotency>();
    send_sync::<RequestMeta>();
    send_sync::<PageRequest>();
    send_sync::<PageAnchor>();
    send_sync::<ThreadQuery>();
    send_sync::<MembersQuery>();
    send_sync::<SearchQuery>();
    send_sync::<EphemeralTarget>();
    send_sync::<History>();
    send_sync::<BotToken>();
    send_sync::<TlsSettings>();
    send_sync::<TlsRoots>();
    send_sync::<BaseUrl>();
    send_sync::<ApiPath>();
    send_sync::<Query>();
    // Byte streams are `Send` but not `Sync`.
    send::<UploadRequest>();
    send::<UploadSource>();
    send::<Download>();
    debug::<UploadRequest>();
    debug::<Download>();
    debug::<RequestMeta>();
    debug::<ClientBuilder>();
}

#[test]
fn errors_are_std_errors_with_their_source() {
    let io = std::io::Error::other("connection reset");
    let err = Error::new(ErrorKind::Transport).with_source(io);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    let source = boxed
        .source()
        .expect("the transport error is kept as the source");
    assert_eq!(source.to_string(), "connection reset");
}

#[test]
fn option_structs_have_constructors() {
    assert_eq!(PageRequest::oldest(), PageRequest::default());
    let page = PageRequest::before(10).with_limit(5).with_topic("top_1");
    assert_eq!(page.anchor, PageAnchor::Before(10));
    assert_eq!(
        (page.limit, page.topic_id.as_ref().map(|t| t.as_str())),
        (Some(5), Some("top_1"))
    );
    let thread = ThreadQuery::latest().with_limit(3);
    assert!(thread.latest);
    assert_eq!(ThreadQuery::after(4).after_seq, Some(4));
    let members = MembersQuery::new()
        .with_role("bot")
        .with_search("ann")
        .with_cursor("c");
    assert_eq!(members.role.as_deref(), Some("bot"));
    let search = SearchQuery::new("wsp_1", "needle")
        .with_sort("newest")
        .with_limit(7);
    assert_eq!(
        (search.sort.as_deref(), search.limit),
        (Some("newest"), Some(7))
    );
    let upload = UploadRequest::bytes("wsp_1", "a.png", b"x".to_vec())
        .with_dimensions(4, 3)
        .with_duration_ms(9);
    assert_eq!(
        (upload.width, upload.height, upload.duration_ms),
        (Some(4), Some(3), Some(9))
    );
}

//! Compile-time checks of the public API's auto traits.

use clickclack_target_parser::{ChatType, ParseTargetError, Target, TargetKind};

const fn assert_send_sync_unpin<T: Send + Sync + Unpin + 'static>() {}

#[test]
fn public_types_are_send_sync_and_static() {
    const _: () = assert_send_sync_unpin::<Target>();
    const _: () = assert_send_sync_unpin::<TargetKind>();
    const _: () = assert_send_sync_unpin::<ChatType>();
    const _: () = assert_send_sync_unpin::<ParseTargetError>();
    // `ParseTargetError` is a `std::error::Error` users can box.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ParseTargetError::Empty);
    assert_eq!(boxed.to_string(), "ClickClack target is required");
}

#[test]
fn constructors_build_each_kind() {
    assert_eq!(Target::channel("general"), "general".parse().unwrap());
    assert_eq!(Target::dm("usr_1").kind(), TargetKind::Dm);
    assert_eq!(Target::thread("msg_1").chat_type(), ChatType::Group);
}

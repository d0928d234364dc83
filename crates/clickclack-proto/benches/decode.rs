//! Micro-benchmarks of realtime frame decoding (`cargo bench -p clickclack-proto`):
//! the typed event decoder against an untyped `serde_json::Value` parse
//! of the same bytes.

use clickclack_proto::event::Event;

fn main() {
    divan::main();
}

/// Realistic frames, shaped like the server's (protocol.md §7.3, §8).
const FRAMES: [(&str, &str); 4] = [
    (
        "message_created_channel",
        r#"{"id":"evt_01JD8ZK3V7Q2M4N6P8R0S2T4V6","cursor":"cur_01JD8ZK3V7Q2M4N6P8R0S2T4V6","type":"message.created","workspace_id":"wsp_01JD8ZJ0A1B2C3D4E5F6G7H8J9","channel_id":"chn_01JD8ZJ1K2M3N4P5Q6R7S8T9V0","seq":1284,"created_at":"2026-05-08T12:00:00.123456789Z","payload":{"message_id":"msg_01JD8ZK3V7Q2M4N6P8R0S2T4V6","author_id":"usr_01JD8ZJ2W3X4Y5Z6A7B8C9D0E1","nonce":"ccrs-3f9a2c417be04d21a6c0e8f1d2b7a954-18a2f4c1d2e3","correlation_id":"req-7f3a9c"}}"#,
    ),
    (
        "message_created_dm",
        r#"{"id":"evt_01JD8ZK4A1B2C3D4E5F6G7H8J9","cursor":"cur_01JD8ZK4A1B2C3D4E5F6G7H8J9","type":"message.created","workspace_id":"wsp_01JD8ZJ0A1B2C3D4E5F6G7H8J9","seq":42,"created_at":"2026-05-08T12:00:01.5Z","payload":{"message_id":"msg_01JD8ZK4A1B2C3D4E5F6G7H8J9","direct_conversation_id":"dm_01JD8ZJ9Z8Y7X6W5V4T3S2R1Q0","author_id":"usr_01JD8ZJ2W3X4Y5Z6A7B8C9D0E1"}}"#,
    ),
    (
        "thread_reply_created",
        r#"{"id":"evt_01JD8ZK5B1C2D3E4F5G6H7J8K9","cursor":"cur_01JD8ZK5B1C2D3E4F5G6H7J8K9","type":"thread.reply_created","workspace_id":"wsp_01JD8ZJ0A1B2C3D4E5F6G7H8J9","channel_id":"chn_01JD8ZJ1K2M3N4P5Q6R7S8T9V0","created_at":"2026-05-08T12:00:02Z","mentioned_user_ids":["usr_01JD8ZJ3BOT0000000000000000"],"payload":{"message_id":"msg_01JD8ZK5B1C2D3E4F5G6H7J8K9","root_message_id":"msg_01JD8ZK3V7Q2M4N6P8R0S2T4V6"}}"#,
    ),
    (
        "reaction_added",
        r#"{"id":"evt_01JD8ZK6C1D2E3F4G5H6J7K8M9","cursor":"cur_01JD8ZK6C1D2E3F4G5H6J7K8M9","type":"reaction.added","workspace_id":"wsp_01JD8ZJ0A1B2C3D4E5F6G7H8J9","channel_id":"chn_01JD8ZJ1K2M3N4P5Q6R7S8T9V0","seq":1284,"created_at":"2026-05-08T12:00:03Z","payload":{"message_id":"msg_01JD8ZK3V7Q2M4N6P8R0S2T4V6","emoji":"👍","user_id":"usr_01JD8ZJ2W3X4Y5Z6A7B8C9D0E1","count":2}}"#,
    ),
];

fn frame(name: &str) -> &'static [u8] {
    FRAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[][..], |(_, json)| json.as_bytes())
}

const NAMES: [&str; 4] = [
    "message_created_channel",
    "message_created_dm",
    "thread_reply_created",
    "reaction_added",
];

/// `Event::from_slice`: envelope, then the typed payload.
#[divan::bench(args = NAMES)]
fn typed_event(bencher: divan::Bencher, name: &str) {
    let bytes = frame(name);
    bencher
        .counter(divan::counter::BytesCount::of_slice(bytes))
        .bench(|| Event::from_slice(divan::black_box(bytes)).ok());
}

/// The untyped baseline: `serde_json::from_slice::<Value>`.
#[divan::bench(args = NAMES)]
fn untyped_value(bencher: divan::Bencher, name: &str) {
    let bytes = frame(name);
    bencher
        .counter(divan::counter::BytesCount::of_slice(bytes))
        .bench(|| serde_json::from_slice::<serde_json::Value>(divan::black_box(bytes)).ok());
}

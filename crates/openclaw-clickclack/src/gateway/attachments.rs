//! Inbound attachments: what the model or agent gets for a message's uploads.
//!
//! 1. An upload larger than the account's media cap (`mediaMaxMb`, at most
//!    64 MiB) is not downloaded; a note says so. When every attachment of a
//!    message without text is over the cap, the turn answers with the
//!    reference's notice instead of calling the model.
//! 2. Images (`image/png`, `image/jpeg`, `image/gif`, `image/webp`) are
//!    downloaded (`GET /api/uploads/{id}`) when the model accepts images;
//!    the bytes must match the declared type (magic number) and the cap, and
//!    go to the model in its provider's image format. For a text-only model
//!    a note names the image instead.
//! 3. Other files get a note (name, type, size); their bytes are not sent.
//! 4. A permanently unreadable upload (404/403) keeps the others and adds
//!    `[ClickClack attachment unavailable: <filename> could not be retrieved]`;
//!    a transient failure is returned so the turn retries (and replays).

use clickclack_client::{Client, Error as ClientError, ErrorKind};
use clickclack_proto::objects::{Message, Upload};

use crate::llm::ImageInput;

/// The notice when every attachment exceeds the media cap (reference row 27).
pub const OVERSIZE_NOTICE: &str =
    "I could not process this attachment because it exceeds this bot's media limit.";

/// Image types passed to models.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// What a message's attachments turn into.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Staged {
    /// One line per attachment that is not passed as an image.
    pub notes: Vec<String>,
    /// Images for the model.
    pub images: Vec<ImageInput>,
    /// Attachments over the cap.
    pub oversize: usize,
}

impl Staged {
    /// Every attachment of `message` was over the cap and it has no text.
    pub fn only_oversize(&self, message: &Message) -> bool {
        self.oversize > 0
            && self.oversize == message.attachments.len()
            && message.body.trim().is_empty()
    }
}

fn display_name(upload: &Upload) -> String {
    let name = upload.filename.trim();
    let name = if name.is_empty() {
        upload.id.as_str()
    } else {
        name
    };
    name.replace(['[', ']', '\n', '\r'], " ")
}

fn size_text(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", b / 1024),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn normalized_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `bytes` start like an image of `media_type`.
pub fn matches_image_type(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        _ => false,
    }
}

fn permanent(error: &ClientError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::NotFound
            | ErrorKind::Forbidden
            | ErrorKind::MissingScope { .. }
            | ErrorKind::WrongWorkspace
    ) || (matches!(error.kind(), ErrorKind::Decode)
        && error.status().is_some_and(|s| s.is_success()))
}

/// Stages the attachments of `message` (see the module docs).
///
/// # Errors
/// A transient download failure (the turn retries it).
pub async fn stage(
    client: &Client,
    message: &Message,
    max_bytes: u64,
    images_supported: bool,
) -> Result<Staged, ClientError> {
    let mut staged = Staged::default();
    for upload in &message.attachments {
        let name = display_name(upload);
        let media_type = normalized_type(&upload.content_type);
        let size = u64::try_from(upload.byte_size).unwrap_or(0);
        if size > max_bytes {
            staged.oversize += 1;
            staged.notes.push(format!(
                "[ClickClack attachment skipped: {name} ({}) exceeds this bot's media limit]",
                size_text(upload.byte_size)
            ));
            continue;
        }
        let is_image = IMAGE_TYPES.contains(&media_type.as_str());
        if !is_image {
            let shown = if media_type.is_empty() {
                "unknown type"
            } else {
                media_type.as_str()
            };
            staged.notes.push(format!(
                "[ClickClack attachment: {name} ({shown}, {}) — file contents not shown]",
                size_text(upload.byte_size)
            ));
            continue;
        }
        if !images_supported {
            staged.notes.push(format!(
                "[ClickClack image: {name} ({media_type}, {}) — this model cannot view images]",
                size_text(upload.byte_size)
            ));
            continue;
        }
        let bytes = match client.download_upload(&upload.id).await {
            Ok(download) => {
                let served = download.content_type.as_deref().map(normalized_type);
                match download.bytes().await {
                    Ok(bytes) => (served, bytes),
                    Err(e) if permanent(&e) => {
                        staged.notes.push(unavailable(&name));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) if permanent(&e) => {
                tracing::warn!(upload = %upload.id, error = %e, "ClickClack attachment could not be retrieved");
                staged.notes.push(unavailable(&name));
                continue;
            }
            Err(e) => return Err(e),
        };
        let (served, bytes) = bytes;
        let type_ok = served
            .as_deref()
            .is_none_or(|s| s == media_type || s == "application/octet-stream");
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_bytes {
            staged.oversize += 1;
            staged.notes.push(format!(
                "[ClickClack attachment skipped: {name} exceeds this bot's media limit]"
            ));
        } else if !type_ok || !matches_image_type(&media_type, &bytes) {
            staged.notes.push(format!(
                "[ClickClack attachment skipped: {name} is not a valid {media_type} image]"
            ));
        } else {
            staged
                .images
                .push(ImageInput::from_bytes(media_type, &bytes));
        }
    }
    Ok(staged)
}

fn unavailable(name: &str) -> String {
    format!("[ClickClack attachment unavailable: {name} could not be retrieved]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn magic_numbers() {
        assert!(matches_image_type("image/png", b"\x89PNG\r\n\x1a\nrest"));
        assert!(!matches_image_type("image/png", b"GIF89a"));
        assert!(matches_image_type("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(matches_image_type("image/webp", b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!matches_image_type("image/svg+xml", b"<svg"));
        assert_eq!(size_text(2048), "2 KB");
        assert_eq!(normalized_type("Image/PNG; charset=x"), "image/png");
    }

    proptest! {
        #[test]
        fn never_panics(t in "\\PC{0,20}", b in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = matches_image_type(&t, &b);
        }
    }
}

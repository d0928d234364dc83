//! Media attachments: where the bytes come from, their name and type, the
//! size check, and the attach-with-verify rule (reference §1 row 16).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use clickclack_client::{Client, UploadRequest};
use clickclack_proto::{MessageId, UploadId, WorkspaceId};

use super::SendError;

/// Where a media attachment's bytes come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MediaSource {
    /// A local file (streamed from disk when uploaded).
    Path(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
}

/// One media attachment of an [`OutboundMessage`](super::OutboundMessage).
#[derive(Debug, Clone)]
pub struct MediaAttachment {
    /// The bytes.
    pub source: MediaSource,
    /// The file name shown in ClickClack; default: the path's file name, else
    /// `attachment<ext>` for the content type.
    pub filename: Option<String>,
    /// The MIME type; default: guessed from the file name, else
    /// `application/octet-stream`.
    pub content_type: Option<String>,
}

impl MediaAttachment {
    /// A local file.
    #[must_use]
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self {
            source: MediaSource::Path(path.into()),
            filename: None,
            content_type: None,
        }
    }

    /// In-memory bytes with a file name.
    #[must_use]
    pub fn bytes(filename: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self {
            source: MediaSource::Bytes(bytes.into()),
            filename: Some(filename.into()),
            content_type: None,
        }
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The MIME type sent with the upload.
    #[must_use]
    pub fn resolved_content_type(&self) -> String {
        if let Some(ct) = self
            .content_type
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            return ct.to_owned();
        }
        self.given_filename()
            .and_then(|name| content_type_for_filename(&name))
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_owned()
    }

    /// The file name sent with the upload (never reads the file).
    #[must_use]
    pub fn resolved_filename(&self) -> String {
        self.given_filename().unwrap_or_else(|| {
            let ext = extension_for_content_type(&self.resolved_content_type()).unwrap_or("");
            format!("attachment{ext}")
        })
    }

    fn given_filename(&self) -> Option<String> {
        let explicit = self
            .filename
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        explicit.or_else(|| match &self.source {
            MediaSource::Path(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().trim().to_owned())
                .filter(|n| !n.is_empty()),
            MediaSource::Bytes(_) => None,
        })
    }

    /// Fails with `media exceeds <limit> bytes` when the media is larger
    /// than `limit` (a file is measured with `stat`, not read).
    ///
    /// # Errors
    /// [`SendError::MediaTooLarge`], [`SendError::MediaRead`].
    pub async fn check_size(&self, limit: u64) -> Result<u64, SendError> {
        let size = match &self.source {
            MediaSource::Bytes(bytes) => bytes.len() as u64,
            MediaSource::Path(path) => file_size(path).await?,
        };
        if size > limit {
            return Err(SendError::MediaTooLarge { size, limit });
        }
        Ok(size)
    }

    pub(crate) fn upload_request(&self, workspace: &WorkspaceId, nonce: &str) -> UploadRequest {
        let filename = self.resolved_filename();
        let request = match &self.source {
            MediaSource::Path(path) => {
                let mut request = UploadRequest::file(workspace.clone(), path.clone());
                request.filename = filename;
                request
            }
            MediaSource::Bytes(bytes) => {
                UploadRequest::bytes(workspace.clone(), filename, bytes.clone())
            }
        };
        request
            .with_content_type(self.resolved_content_type())
            .with_nonce(nonce)
    }
}

async fn file_size(path: &Path) -> Result<u64, SendError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|source| SendError::MediaRead {
            path: path.to_path_buf(),
            source,
        })?;
    if !meta.is_file() {
        return Err(SendError::MediaRead {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    Ok(meta.len())
}

/// The content type used when nothing better is known.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

const TYPES: &[(&str, &str)] = &[
    (".png", "image/png"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".gif", "image/gif"),
    (".webp", "image/webp"),
    (".svg", "image/svg+xml"),
    (".heic", "image/heic"),
    (".pdf", "application/pdf"),
    (".json", "application/json"),
    (".zip", "application/zip"),
    (".gz", "application/gzip"),
    (".txt", "text/plain"),
    (".log", "text/plain"),
    (".md", "text/markdown"),
    (".csv", "text/csv"),
    (".html", "text/html"),
    (".ts", "text/typescript"),
    (".js", "text/javascript"),
    (".rs", "text/x-rust"),
    (".mp3", "audio/mpeg"),
    (".ogg", "audio/ogg"),
    (".wav", "audio/wav"),
    (".m4a", "audio/mp4"),
    (".mp4", "video/mp4"),
    (".webm", "video/webm"),
    (".mov", "video/quicktime"),
];

/// A MIME type for a file name's extension (case-insensitive), if known.
#[must_use]
pub fn content_type_for_filename(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, ct)| *ct)
}

/// The usual extension (with the dot) for a MIME type, if known.
#[must_use]
pub fn extension_for_content_type(content_type: &str) -> Option<&'static str> {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(_, ct)| *ct == base)
        .map(|(ext, _)| *ext)
}

/// Attaches `upload` to `message` with the plugin's rule: on failure, read
/// the message — if it already lists the upload (a lost success response),
/// that is success; else retry **once**; if the retry fails too, return the
/// **first** error.
///
/// # Errors
/// The first attach error.
pub async fn attach_verified(
    client: &Client,
    message: &MessageId,
    upload: &UploadId,
) -> Result<(), SendError> {
    let first = match client.attach_upload(message, upload).await {
        Ok(_) => return Ok(()),
        Err(first) => first,
    };
    tracing::debug!(message_id = %message, upload_id = %upload, error = %first, "ClickClack attach failed; verifying");
    match client.get_message(message).await {
        Ok(persisted) if persisted.attachments.iter().any(|a| &a.id == upload) => {
            return Ok(());
        }
        Ok(_) => {}
        // A failed read must not prevent the one safe retry.
        Err(error) => {
            tracing::debug!(message_id = %message, %error, "ClickClack attach verification read failed")
        }
    }
    match client.attach_upload(message, upload).await {
        Ok(_) => Ok(()),
        Err(_) => Err(SendError::from_client(first)),
    }
}

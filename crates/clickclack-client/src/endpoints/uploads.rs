//! Uploads: multipart upload (bytes, file, stream), by-nonce, download, attach.

use std::path::PathBuf;
use std::pin::Pin;

use bytes::Bytes;
use clickclack_proto::headers::UPLOAD_NONCE;
use clickclack_proto::requests::AttachUpload;
use clickclack_proto::responses::{OkResponse, UploadResponse};
use clickclack_proto::{MessageId, Upload, UploadId, WorkspaceId};
use futures_core::Stream;
use futures_util::StreamExt;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use crate::body::RequestBody;
use crate::client::{Call, Client};
use crate::error::{BoxError, Error, ErrorKind};
use crate::nonce::ensure_nonce;
use crate::retry::Idempotency;
use crate::url::{ApiPath, Query};

/// A boxed stream of byte chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send + 'static>>;

/// Where the bytes of an upload come from.
///
/// Non-exhaustive: a later release may add a source.
#[non_exhaustive]
pub enum UploadSource {
    /// In-memory bytes (re-sendable, so retried and reconciled like other creates).
    Bytes(Bytes),
    /// A file, streamed from disk (re-opened when a re-send is needed).
    File(PathBuf),
    /// A stream, sent once (never re-sent; an ambiguous failure is still
    /// reconciled by nonce).
    Stream(ByteStream),
}

impl std::fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            UploadSource::File(p) => f.debug_tuple("File").field(p).finish(),
            UploadSource::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// An upload request (`POST /api/uploads?workspace_id=&nonce=`).
///
/// Non-exhaustive: build one with [`UploadRequest::bytes`],
/// [`UploadRequest::file`] or [`UploadRequest::stream`], then the `with_*`
/// setters.
#[derive(Debug)]
#[non_exhaustive]
pub struct UploadRequest {
    /// The workspace (sent as a query parameter).
    pub workspace_id: WorkspaceId,
    /// The file name of the `file` part.
    pub filename: String,
    /// The content type of the `file` part (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// The bytes.
    pub source: UploadSource,
    /// The nonce (generated when `None`).
    pub nonce: Option<String>,
    /// Optional image/video width.
    pub width: Option<u32>,
    /// Optional image/video height.
    pub height: Option<u32>,
    /// Optional audio/video duration in milliseconds.
    pub duration_ms: Option<u64>,
}

impl UploadRequest {
    /// An upload of in-memory bytes.
    pub fn bytes(
        workspace: impl Into<WorkspaceId>,
        filename: impl Into<String>,
        bytes: impl Into<Bytes>,
    ) -> Self {
        Self::with_source(workspace, filename, UploadSource::Bytes(bytes.into()))
    }

    /// An upload of a file on disk (the file name defaults to the path's).
    pub fn file(workspace: impl Into<WorkspaceId>, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Self::with_source(workspace, filename, UploadSource::File(path))
    }

    /// An upload from a byte stream.
    pub fn stream(
        workspace: impl Into<WorkspaceId>,
        filename: impl Into<String>,
        stream: ByteStream,
    ) -> Self {
        Self::with_source(workspace, filename, UploadSource::Stream(stream))
    }

    fn with_source(
        workspace: impl Into<WorkspaceId>,
        filename: impl Into<String>,
        source: UploadSource,
    ) -> Self {
        Self {
            workspace_id: workspace.into(),
            filename: filename.into(),
            content_type: None,
            source,
            nonce: None,
            width: None,
            height: None,
            duration_ms: None,
        }
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the nonce (one is generated when none is set).
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the image/video size in pixels.
    pub fn with_dimensions(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// Sets the audio/video duration in milliseconds.
    pub fn with_duration_ms(mut self, duration_ms: u64) -> Self {
        self.duration_ms = Some(duration_ms);
        self
    }
}

/// A download in progress: metadata plus a size-capped byte stream.
///
/// Non-exhaustive: only the client creates it; a later release may add metadata.
#[non_exhaustive]
pub struct Download {
    /// `Content-Type` of the response.
    pub content_type: Option<String>,
    /// `Content-Length`, when sent.
    pub content_length: Option<u64>,
    /// `Content-Disposition`, when sent.
    pub content_disposition: Option<String>,
    /// The bytes; yields a [`ErrorKind::Decode`] error once more than the cap arrives.
    pub stream: ByteStreamResult,
}

/// A boxed stream of byte chunks with client errors.
pub type ByteStreamResult = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .field("content_disposition", &self.content_disposition)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// Collects the whole (capped) body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }
}

fn quote_filename(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' | '\\' => '_',
            c => c,
        })
        .collect()
}

fn multipart_parts(boundary: &str, req: &UploadRequest) -> (Bytes, Bytes) {
    let mut head = String::new();
    let mut field = |name: &str, value: String| {
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    };
    field("workspace_id", req.workspace_id.as_str().to_owned());
    if let Some(w) = req.width {
        field("width", w.to_string());
    }
    if let Some(h) = req.height {
        field("height", h.to_string());
    }
    if let Some(d) = req.duration_ms {
        field("duration_ms", d.to_string());
    }
    let ct = req
        .content_type
        .as_deref()
        .filter(|c| !c.contains(['\r', '\n']))
        .unwrap_or("application/octet-stream");
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {ct}\r\n\r\n",
        quote_filename(&req.filename)
    ));
    let tail = format!("\r\n--{boundary}--\r\n");
    (Bytes::from(head), Bytes::from(tail))
}

impl Client {
    /// `POST /api/uploads?workspace_id=&nonce=` (multipart; `uploads:write`).
    ///
    /// Always nonce-keyed; after an ambiguous failure the upload is looked up
    /// with [`Client::upload_by_nonce`], and bytes/file sources are re-sent
    /// only when the server has no upload with that nonce.
    pub async fn upload(&self, mut request: UploadRequest) -> Result<Upload, Error> {
        let nonce = ensure_nonce(&mut request.nonce)?;
        let boundary = format!("ccrs{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let (head, tail) = multipart_parts(&boundary, &request);
        let ctype = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            .map_err(|e| Error::new(ErrorKind::InvalidRequest).with_source(e))?;
        let mut stream_source = match &mut request.source {
            UploadSource::Stream(s) => Some(std::mem::replace(
                s,
                Box::pin(futures_util::stream::empty()),
            )),
            _ => None,
        };
        let path = ApiPath::new("/api/uploads");
        let query = Query::new()
            .push("workspace_id", request.workspace_id.as_str())
            .push("nonce", &nonce);
        let mut resends = 0;
        loop {
            let (body, resendable) = match &request.source {
                UploadSource::Bytes(b) => {
                    let mut all = bytes::BytesMut::with_capacity(head.len() + b.len() + tail.len());
                    all.extend_from_slice(&head);
                    all.extend_from_slice(b);
                    all.extend_from_slice(&tail);
                    (RequestBody::full(all.freeze()), true)
                }
                UploadSource::File(p) => {
                    let file = tokio::fs::File::open(p).await.map_err(|e| {
                        Error::new(ErrorKind::InvalidRequest)
                            .with_detail(format!("could not open {}", p.display()))
                            .with_source(e)
                    })?;
                    let chunks = tokio_util::io::ReaderStream::new(file)
                        .map(|r| r.map_err(|e| Box::new(e) as BoxError));
                    (
                        streaming_body(head.clone(), Box::pin(chunks), tail.clone()),
                        true,
                    )
                }
                UploadSource::Stream(_) => match stream_source.take() {
                    Some(s) => (streaming_body(head.clone(), s, tail.clone()), false),
                    None => {
                        return Err(Error::new(ErrorKind::Transport)
                            .with_method(Method::POST)
                            .with_path(path.to_string())
                            .with_detail("the upload stream was consumed and the server has no upload with this nonce"));
                    }
                },
            };
            let mut call = Call::new(Method::POST, path.clone()).query(query.clone());
            call.body = body;
            call.content_type = Some(ctype.clone());
            call.idempotency = Idempotency::NonceKeyed;
            let err = match self.json::<UploadResponse>(call).await {
                Ok(r) => return Ok(r.upload),
                Err(e) if e.is_ambiguous() => e,
                Err(e) => return Err(e),
            };
            match self.upload_by_nonce(&request.workspace_id, &nonce).await {
                Ok(Some(u)) => return Ok(u),
                Ok(None) if resendable && resends < 2 => resends += 1,
                Ok(None) => return Err(err),
                Err(e) if e.kind() == &ErrorKind::Unsupported => return Err(e),
                Err(_) => return Err(err),
            }
        }
    }

    /// `GET /api/uploads/by-nonce`: the caller's upload with `nonce`, or
    /// `None` (a 404 counts as absent only with `X-ClickClack-Upload-Nonce:
    /// supported`; otherwise [`ErrorKind::Unsupported`]).
    pub async fn upload_by_nonce(
        &self,
        workspace: &WorkspaceId,
        nonce: &str,
    ) -> Result<Option<Upload>, Error> {
        let resp: Option<UploadResponse> = self
            .get_by_nonce(
                "/api/uploads/by-nonce",
                UPLOAD_NONCE,
                "uploads",
                workspace,
                nonce,
            )
            .await?;
        Ok(resp.map(|r| r.upload))
    }

    /// `GET /api/uploads/{id}`: the raw bytes as a stream, capped at the
    /// client's download limit ([`ClientBuilder::max_download_bytes`](crate::ClientBuilder::max_download_bytes)).
    pub async fn download_upload(&self, upload: &UploadId) -> Result<Download, Error> {
        let path = ApiPath::new("/api/uploads").seg(upload.as_str());
        let mut call = Call::get(path);
        call.accept_json = false;
        let success = self.send(call).await?;
        let cap = self.max_download_bytes();
        let header = |name| {
            success
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_length = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        let ctx = (success.method.clone(), success.path.as_str().to_owned());
        if content_length.is_some_and(|l| l > cap) {
            return Err(Error::new(ErrorKind::Decode)
                .with_method(ctx.0)
                .with_path(ctx.1)
                .with_detail(format!("the download exceeds the {cap}-byte cap")));
        }
        let content_type = header(CONTENT_TYPE);
        let content_disposition = header(CONTENT_DISPOSITION);
        let timeout = self.request_timeout();
        let body = success.body;
        let stream =
            futures_util::stream::unfold((body, 0u64, false), move |(mut body, seen, done)| {
                let ctx = ctx.clone();
                async move {
                    if done {
                        return None;
                    }
                    loop {
                        let frame = match tokio::time::timeout(timeout, body.frame()).await {
                            Err(e) => {
                                let err = Error::new(ErrorKind::Timeout)
                                    .with_method(ctx.0.clone())
                                    .with_path(ctx.1.clone())
                                    .with_detail("the download stalled")
                                    .with_source(e);
                                return Some((Err(err), (body, seen, true)));
                            }
                            Ok(None) => return None,
                            Ok(Some(Err(e))) => {
                                let err = Error::new(ErrorKind::Transport)
                                    .with_method(ctx.0.clone())
                                    .with_path(ctx.1.clone())
                                    .with_detail("the download failed")
                                    .with_source(e);
                                return Some((Err(err), (body, seen, true)));
                            }
                            Ok(Some(Ok(frame))) => frame,
                        };
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        let seen = seen + data.len() as u64;
                        if seen > cap {
                            let err = Error::new(ErrorKind::Decode)
                                .with_method(ctx.0.clone())
                                .with_path(ctx.1.clone())
                                .with_detail(format!("the download exceeds the {cap}-byte cap"));
                            return Some((Err(err), (body, seen, true)));
                        }
                        return Some((Ok(data), (body, seen, false)));
                    }
                }
            });
        Ok(Download {
            content_type,
            content_length,
            content_disposition,
            stream: Box::pin(stream),
        })
    }

    /// `POST /api/messages/{id}/attachments {upload_id}` (author only; attaching
    /// twice is harmless, so it is retried).
    pub async fn attach_upload(
        &self,
        message: &MessageId,
        upload: &UploadId,
    ) -> Result<bool, Error> {
        let path = ApiPath::new("/api/messages")
            .seg(message.as_str())
            .lit("attachments");
        let call = Call::new(Method::POST, path)
            .json(&AttachUpload::new(upload.clone()))?
            .idempotency(Idempotency::Safe);
        let resp: OkResponse = self.json(call).await?;
        Ok(resp.ok)
    }
}

fn streaming_body(head: Bytes, middle: ByteStream, tail: Bytes) -> RequestBody {
    let all = futures_util::stream::once(async move { Ok::<_, BoxError>(head) })
        .chain(middle)
        .chain(futures_util::stream::once(async move {
            Ok::<_, BoxError>(tail)
        }))
        .map(|r| r.map(Frame::data));
    RequestBody::streaming(StreamBody::new(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_puts_workspace_before_file() {
        let req = UploadRequest::bytes("wsp_1", "a\"b.txt", Bytes::from_static(b"hi"))
            .with_content_type("text/plain");
        let (head, tail) = multipart_parts("BOUND", &req);
        let head = std::str::from_utf8(&head).unwrap();
        let ws = head.find("name=\"workspace_id\"").unwrap();
        let file = head.find("name=\"file\"").unwrap();
        assert!(ws < file);
        assert!(head.contains("filename=\"a'b.txt\""));
        assert!(head.contains("Content-Type: text/plain"));
        assert_eq!(&tail[..], b"\r\n--BOUND--\r\n");
    }
}

//! Uploads: multipart create with nonce replay, by-nonce lookup, download.

use std::convert::Infallible;

use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::{auth, nonce_param, workspace_param};
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Resp, json_response};
use crate::ids::now_rfc3339;
use crate::server::Shared;
use crate::store::records::UploadRec;

/// Maximum upload request size (64 MiB).
pub(crate) const MAX_UPLOAD: usize = 64 << 20;
const NONCE_HEADER: &str = "x-clickclack-upload-nonce";

#[derive(Debug, Default)]
struct Form {
    workspace_id: Option<String>,
    file: Option<(String, String, bytes::Bytes)>,
    width: i64,
    height: i64,
    duration_ms: i64,
}

fn dim(v: &str, name: &str) -> ApiResult<i64> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be a non-negative integer"
        ))),
    }
}

async fn read_form(ctx: &mut Ctx, workspace_id: Option<String>) -> ApiResult<Form> {
    let content_type = ctx
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::bad_request("request Content-Type isn't multipart/form-data"))?;
    let body = ctx.body_bytes(MAX_UPLOAD).await?;
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut form = Form {
        workspace_id,
        ..Form::default()
    };
    let bad = |e: multer::Error| ApiError::bad_request(e.to_string());
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "file" => {
                if form.workspace_id.is_none() {
                    return Err(ApiError::bad_request(
                        "workspace_id must precede file or be provided as a query parameter",
                    ));
                }
                if form.file.is_some() {
                    return Err(ApiError::bad_request("exactly one file is required"));
                }
                let filename = field.file_name().unwrap_or("upload").to_owned();
                let ct = field
                    .content_type()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "application/octet-stream".into());
                let data = field.bytes().await.map_err(bad)?;
                form.file = Some((filename, ct, data));
            }
            "workspace_id" => {
                let v = field.text().await.map_err(bad)?;
                if form.workspace_id.is_none() && !v.trim().is_empty() {
                    form.workspace_id = Some(v.trim().to_owned());
                }
            }
            "width" => form.width = dim(&field.text().await.map_err(bad)?, "width")?,
            "height" => form.height = dim(&field.text().await.map_err(bad)?, "height")?,
            "duration_ms" => {
                form.duration_ms = dim(&field.text().await.map_err(bad)?, "duration_ms")?
            }
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /api/uploads`.
pub(crate) async fn create(shared: &Shared, ctx: &mut Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("uploads:write")?;
    let query_ws = ctx.q("workspace_id").map(str::to_owned);
    let nonce = ctx
        .q("nonce")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(n) = &nonce {
        if n.chars().count() > 128 {
            return Err(ApiError::bad_request("nonce is too long"));
        }
        let Some(ws) = &query_ws else {
            return Err(ApiError::bad_request("workspace_id is required"));
        };
        let replay = shared.store.read(|d| -> ApiResult<Option<Value>> {
            d.workspace_access(&actor, ws)?;
            match d
                .upload_nonces
                .get(&(actor.user_id.clone(), n.clone()))
                .and_then(|id| d.uploads.get(id))
            {
                Some(u) if &u.workspace_id == ws => Ok(Some(u.to_json())),
                Some(_) => Err(ApiError::conflict(
                    "upload nonce was already used in another workspace",
                )),
                None => Ok(None),
            }
        })?;
        if let Some(upload) = replay {
            return Ok(json_response(StatusCode::OK, &json!({ "upload": upload })));
        }
    }
    let form = read_form(ctx, query_ws).await?;
    let Some(ws) = form.workspace_id.clone() else {
        return Err(ApiError::bad_request("workspace_id is required"));
    };
    let Some((filename, content_type, data)) = form.file else {
        return Err(ApiError::bad_request("file is required"));
    };
    let upload = shared.store.write(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &ws)?;
        if let Some(n) = &nonce
            && let Some(u) = d
                .upload_nonces
                .get(&(actor.user_id.clone(), n.clone()))
                .and_then(|id| d.uploads.get(id))
        {
            return Ok(u.to_json());
        }
        let id = d.ids.next("upl");
        let rec = UploadRec {
            id: id.clone(),
            workspace_id: ws.clone(),
            owner_id: actor.user_id.clone(),
            nonce: nonce.clone(),
            filename,
            content_type,
            data,
            width: form.width,
            height: form.height,
            duration_ms: form.duration_ms,
            created_at: now_rfc3339(),
            dm_id: None,
        };
        let json = rec.to_json();
        d.uploads.insert(id.clone(), rec);
        if let Some(n) = &nonce {
            d.upload_nonces
                .insert((actor.user_id.clone(), n.clone()), id);
        }
        Ok(json)
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "upload": upload }),
    ))
}

/// `GET /api/uploads/by-nonce`.
pub(crate) fn by_nonce(shared: &Shared, ctx: &Ctx) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("uploads:write")?;
    let ws = workspace_param(ctx, &actor)?;
    let nonce = nonce_param(ctx)?;
    let upload = shared.store.read(|d| -> ApiResult<Value> {
        d.workspace_access(&actor, &ws)?;
        match d
            .upload_nonces
            .get(&(actor.user_id.clone(), nonce))
            .and_then(|id| d.uploads.get(id))
        {
            Some(u) if u.workspace_id == ws => Ok(u.to_json()),
            Some(_) => Err(ApiError::conflict(
                "upload nonce was already used in another workspace",
            )),
            None => {
                Err(ApiError::not_found("upload not found").with_header(NONCE_HEADER, "supported"))
            }
        }
    })?;
    let mut resp = json_response(StatusCode::OK, &json!({ "upload": upload }));
    resp.headers_mut()
        .insert(NONCE_HEADER, HeaderValue::from_static("supported"));
    Ok(resp)
}

fn inline_type(ct: &str) -> bool {
    let ct = ct.to_ascii_lowercase();
    (ct.starts_with("image/") && !ct.contains("svg"))
        || ct.starts_with("video/")
        || ct.starts_with("audio/")
        || ct == "application/pdf"
        || ct.starts_with("text/plain")
}

/// `GET /api/uploads/{id}` (raw bytes).
pub(crate) fn download(shared: &Shared, ctx: &Ctx, id: &str) -> ApiResult<Resp> {
    let actor = auth(shared, ctx)?;
    actor.require_scope("messages:read")?;
    let (data, ct, filename) = shared.store.read(|d| -> ApiResult<_> {
        let u = d
            .uploads
            .get(id)
            .ok_or_else(|| ApiError::not_found("upload not found"))?;
        d.workspace_access(&actor, &u.workspace_id)?;
        if let Some(dm) = &u.dm_id {
            actor.require_scope("dms:read")?;
            d.dm_access(&actor, dm)?;
        }
        Ok((u.data.clone(), u.content_type.clone(), u.filename.clone()))
    })?;
    let disposition = if inline_type(&ct) {
        "inline"
    } else {
        "attachment"
    };
    let safe_name: String = filename
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut resp = Response::new(Full::new(data));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{safe_name}\"")) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
    Ok(resp)
}

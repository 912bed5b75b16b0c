//! `berth image import|ls|rm`.

use std::io::IsTerminal;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::each;
use crate::cli::{ImageImport, ImageLs, ImageRm};
use crate::client::{read_all, Client, ReqBody};
use crate::display::{ago, human_size, id, table};
use crate::query::{seg, with_query};
use crate::stream::json_messages;

/// Uploads above this size get a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// `repo[:tag]`, where a ':' before the last '/' belongs to a registry port.
pub fn split_reference(r: &str) -> (String, Option<String>) {
    match r.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') && !repo.is_empty() => {
            (repo.to_string(), Some(tag.to_string()))
        }
        _ => (r.to_string(), None),
    }
}

/// Streams `reader` as the request body, chunk by chunk, ticking `pb`.
fn upload_body(reader: Box<dyn AsyncRead + Unpin + Send>, pb: Option<ProgressBar>) -> ReqBody {
    let state = Some((reader, pb));
    let stream = futures::stream::unfold(state, |state| async move {
        let (mut r, pb) = state?;
        let mut buf = vec![0u8; CHUNK];
        match r.read(&mut buf).await {
            Ok(0) => {
                if let Some(pb) = &pb {
                    pb.finish_and_clear();
                }
                None
            }
            Ok(n) => {
                buf.truncate(n);
                if let Some(pb) = &pb {
                    pb.inc(n as u64);
                }
                Some((Ok(Frame::data(Bytes::from(buf))), Some((r, pb))))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

fn progress_bar(size: u64) -> Option<ProgressBar> {
    if size <= PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(size);
    let style = ProgressStyle::with_template(
        "Uploading {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    Some(pb)
}

/// The image ID from the import progress stream, or the daemon's error.
pub fn import_result(bytes: &[u8]) -> anyhow::Result<String> {
    let msgs = json_messages(bytes).context("berthd sent an unreadable import progress stream")?;
    for m in &msgs {
        let err = m["errorDetail"]["message"].as_str().or(m["error"].as_str());
        if let Some(e) = err {
            bail!("Error response from daemon: {e}");
        }
    }
    let id = msgs
        .iter()
        .rev()
        .find_map(|m| m["status"].as_str().filter(|s| s.starts_with("sha256:")));
    match id {
        Some(id) => Ok(id.to_string()),
        None => bail!("berthd finished the import without reporting an image ID"),
    }
}

pub async fn import(c: &Client, a: &ImageImport) -> anyhow::Result<i32> {
    let mut params = vec![("fromSrc", "-".to_string())];
    if let Some(r) = &a.reference {
        let (repo, tag) = split_reference(r);
        params.push(("repo", repo));
        if let Some(tag) = tag {
            params.push(("tag", tag));
        }
    }
    let mut headers = vec![("Content-Type", "application/x-tar".to_string())];
    let body = if a.file == "-" {
        upload_body(Box::new(tokio::io::stdin()), None)
    } else {
        let file = tokio::fs::File::open(&a.file)
            .await
            .with_context(|| format!("cannot open {:?} for import", a.file))?;
        let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        headers.push(("Content-Length", size.to_string()));
        upload_body(Box::new(file), progress_bar(size))
    };
    let path = with_query("/images/create", &params);
    let resp = c.send(Method::POST, &path, Some(body), &headers).await?;
    let bytes = read_all(&path, resp).await?;
    println!("{}", import_result(&bytes)?);
    Ok(0)
}

pub async fn ls(c: &Client, a: &ImageLs) -> anyhow::Result<i32> {
    let images = c.get_json("/images/json").await?;
    let images = images.as_array().map(Vec::as_slice).unwrap_or_default();
    if a.quiet {
        let mut seen = Vec::new();
        for img in images {
            let i = id(img["Id"].as_str().unwrap_or_default(), a.no_trunc);
            if !seen.contains(&i) {
                println!("{i}");
                seen.push(i);
            }
        }
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    let mut rows = Vec::new();
    for img in images {
        let image_id = id(img["Id"].as_str().unwrap_or_default(), a.no_trunc);
        let created = ago(img["Created"].as_i64().unwrap_or(now), now);
        let size = human_size(img["Size"].as_f64().unwrap_or(0.0));
        let tags: Vec<&str> = img["RepoTags"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>"]
        } else {
            tags
        };
        for t in tags {
            let (repo, tag) = split_reference(t);
            let tag = tag.unwrap_or_else(|| "<none>".into());
            rows.push(vec![
                repo,
                tag,
                image_id.clone(),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    print!(
        "{}",
        table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
    );
    Ok(0)
}

pub async fn rm(c: &Client, a: &ImageRm) -> anyhow::Result<i32> {
    each(&a.images, |name| async move {
        let mut params = vec![];
        if a.force {
            params.push(("force", "1".to_string()));
        }
        let path = with_query(&format!("/images/{}", seg(&name)), &params);
        let v = c.call_json(Method::DELETE, &path, None).await?;
        let lines: Vec<String> = v
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .flat_map(|item| {
                let u = item["Untagged"].as_str().map(|s| format!("Untagged: {s}"));
                let d = item["Deleted"].as_str().map(|s| format!("Deleted: {s}"));
                u.into_iter().chain(d)
            })
            .collect();
        Ok((!lines.is_empty()).then(|| lines.join("\n")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("busybox"), ("busybox".into(), None));
        assert_eq!(
            split_reference("busybox:1.36"),
            ("busybox".into(), Some("1.36".into()))
        );
        assert_eq!(
            split_reference("reg:5000/team/app"),
            ("reg:5000/team/app".into(), None)
        );
        assert_eq!(
            split_reference("reg:5000/app:v1"),
            ("reg:5000/app".into(), Some("v1".into()))
        );
    }

    #[test]
    fn import_stream() {
        let ok = b"{\"status\":\"Importing\"}\r\n{\"status\":\"sha256:abc\"}\r\n";
        assert_eq!(import_result(ok).unwrap(), "sha256:abc");
        let bad = b"{\"errorDetail\":{\"message\":\"not a tar\"},\"error\":\"not a tar\"}";
        let e = import_result(bad).unwrap_err().to_string();
        assert_eq!(e, "Error response from daemon: not a tar");
        assert!(import_result(b"{\"status\":\"Importing\"}").is_err());
    }
}

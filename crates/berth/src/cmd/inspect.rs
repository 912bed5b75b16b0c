//! `berth inspect`: containers, then networks, then images, like docker.

use hyper::Method;

use super::render_error;
use crate::cli::{InspectArgs, ObjectType};
use crate::client::{parse_json, Client};
use crate::format::Template;
use crate::jsonfmt::inspect_array;
use crate::query::seg;

/// Prints raw JSON objects as docker does: a pretty JSON array, or one
/// rendered template line per object.
pub fn print_inspected(raws: &[String], format: Option<&str>) -> anyhow::Result<()> {
    match format {
        None => println!("{}", inspect_array(raws)),
        Some(f) => {
            let t = Template::parse(f)?;
            for raw in raws {
                let v = parse_json("inspect", raw.as_bytes())?;
                println!("{}", t.render(&v)?);
            }
        }
    }
    Ok(())
}

fn path_for(kind: ObjectType, name: &str) -> String {
    match kind {
        ObjectType::Container => format!("/containers/{}/json", seg(name)),
        ObjectType::Network => format!("/networks/{}", seg(name)),
        ObjectType::Image => format!("/images/{}/json", seg(name)),
    }
}

/// Tries each object type in turn; a 404 means "try the next one".
pub(crate) async fn find(c: &Client, kinds: &[ObjectType], name: &str) -> anyhow::Result<String> {
    for kind in kinds {
        match c.call(Method::GET, &path_for(*kind, name), None).await {
            Ok(raw) => return Ok(String::from_utf8_lossy(&raw).into_owned()),
            Err(e) if e.status() == Some(404) && kinds.len() > 1 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("Error: No such object: {name}")
}

pub async fn inspect(c: &Client, a: &InspectArgs) -> anyhow::Result<i32> {
    // Parse the template first so a typo fails before any request.
    if let Some(f) = &a.format {
        Template::parse(f)?;
    }
    let kinds = match a.kind {
        Some(k) => vec![k],
        None => vec![
            ObjectType::Container,
            ObjectType::Network,
            ObjectType::Image,
        ],
    };
    let mut found = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match find(c, &kinds, name).await {
            Ok(raw) => found.push(raw),
            Err(e) => {
                eprintln!("{}", render_error(&e));
                failed = true;
            }
        }
    }
    print_inspected(&found, a.format.as_deref())?;
    Ok(i32::from(failed))
}

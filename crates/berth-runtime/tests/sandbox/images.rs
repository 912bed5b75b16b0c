//! Image store tests.

use std::io::Write;

use berth_runtime::image::ImageStore;
use berth_runtime::RuntimeError;
use sha2::Digest;

use crate::fixture::{check, run_to_end, Fixture};

pub fn import_non_tar_is_invalid_and_leaves_nothing(fx: &Fixture) -> Result<(), String> {
    let root = fx.dir.path().join("images-bad");
    let store = ImageStore::open(&root).map_err(|e| e.to_string())?;
    let garbage = "this is not a tar archive, just some text\n".repeat(100);
    for input in [garbage.as_bytes(), b"".as_slice(), &[0x1f, 0x8b, 1, 2, 3]] {
        match store.import(&mut &input[..], Some("bad")) {
            Err(RuntimeError::Invalid(msg)) => check(!msg.is_empty(), || "empty message".into())?,
            other => {
                return Err(format!(
                    "import of {} bytes of junk: expected Invalid, got {other:?}",
                    input.len()
                ))
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(&root)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    check(left.is_empty(), || format!("failed imports left {left:?}"))?;
    check(store.list().map_err(|e| e.to_string())?.is_empty(), || {
        "list is not empty".into()
    })
}

pub fn gzip_rootfs_import_has_the_same_id(fx: &Fixture) -> Result<(), String> {
    let raw = std::fs::read(&fx.busybox_tar).map_err(|e| e.to_string())?;
    let expected = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&raw)));
    check(fx.busybox.id == expected, || {
        format!("id {} is not the tar's sha256 {expected}", fx.busybox.id)
    })?;
    check(fx.busybox.repo_tags == ["busybox:latest"], || {
        format!("tags {:?}", fx.busybox.repo_tags)
    })?;
    check(fx.busybox.size > 1_000_000, || {
        format!("size {}", fx.busybox.size)
    })?;
    let rootfs = &fx.busybox.layers[0];
    check(
        rootfs.join("bin/busybox").is_file() && rootfs.join("bin/sh").exists(),
        || "rootfs lacks bin/sh".into(),
    )?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).map_err(|e| e.to_string())?;
    let gz = gz.finish().map_err(|e| e.to_string())?;
    let imported = fx
        .store
        .import(&mut &gz[..], Some("busybox:gz"))
        .map_err(|e| e.to_string())?;
    check(imported.len() == 1 && imported[0].id == expected, || {
        format!("gzip import gave {imported:?}")
    })?;
    let again = fx.store.get("busybox:gz").map_err(|e| e.to_string())?;
    check(again.repo_tags == ["busybox:gz", "busybox:latest"], || {
        format!("tags {:?}", again.repo_tags)
    })?;
    let short = &expected["sha256:".len().."sha256:".len() + 12];
    check(
        fx.store.get(short).map_err(|e| e.to_string())?.id == expected,
        || "short id lookup".into(),
    )?;
    fx.store.remove("busybox:gz").map_err(|e| e.to_string())?;
    check(fx.store.get("busybox:latest").is_ok(), || {
        "removing one tag removed the image".into()
    })?;
    check(
        matches!(fx.store.get("busybox:gz"), Err(RuntimeError::NotFound(_))),
        || "tag still there".into(),
    )
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
        } else {
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
        }
        b.append_data(&mut h, path, *data).expect("append");
    }
    b.into_inner().expect("tar")
}

const CONFIG: &str = r#"{"architecture":"amd64","created":"2024-01-02T03:04:05Z","config":{"Env":["PATH=/bin","GREETING=hello"],"Cmd":["sh","-c","echo $GREETING; pwd; ls /var/www; cat /etc/motd"],"Entrypoint":null,"WorkingDir":"/var/www"}}"#;

/// A `docker save` archive: busybox, a layer adding files, a gzip layer with whiteouts.
fn docker_save_archive(fx: &Fixture) -> Vec<u8> {
    let layer1 = std::fs::read(&fx.busybox_tar).expect("busybox tar");
    let layer2 = tar_of(&[("var/www/old.html", b"old"), ("etc/group2", b"x")]);
    let layer3 = tar_of(&[
        ("etc/.wh.group", b""),
        ("var/www/.wh..wh..opq", b""),
        ("var/www/index.html", b"new"),
        ("etc/motd", b"motd\n"),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer3).expect("gzip");
    let layer3 = gz.finish().expect("gzip");
    let config_name = format!("{}.json", hex::encode(sha2::Sha256::digest(CONFIG)));
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["test/app:v1"],"Layers":["l1/layer.tar","l2/layer.tar","l3/layer.tar"]}}]"#
    );
    tar_of(&[
        ("l1/", b""),
        ("l1/layer.tar", &layer1),
        ("l2/", b""),
        ("l2/layer.tar", &layer2),
        ("l3/", b""),
        ("l3/layer.tar", &layer3),
        (&config_name, CONFIG.as_bytes()),
        ("manifest.json", manifest.as_bytes()),
    ])
}

pub fn docker_save_archive_with_whiteouts(fx: &Fixture) -> Result<(), String> {
    let archive = docker_save_archive(fx);
    let images = fx
        .store
        .import(&mut &archive[..], None)
        .map_err(|e| format!("import: {e}"))?;
    let [image] = images.as_slice() else {
        return Err(format!("expected one image, got {images:?}"));
    };
    let id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(CONFIG)));
    check(image.id == id, || {
        format!("id {} != config digest {id}", image.id)
    })?;
    check(image.repo_tags == ["test/app:v1"], || {
        format!("tags {:?}", image.repo_tags)
    })?;
    check(image.created == 1_704_164_645, || {
        format!("created {}", image.created)
    })?;
    let c = &image.config;
    check(
        c.env == ["PATH=/bin", "GREETING=hello"]
            && c.cmd.len() == 3
            && c.entrypoint.is_empty()
            && c.working_dir == "/var/www",
        || format!("config {c:?}"),
    )?;
    let root = &image.layers[0];
    for (path, present) in [
        ("bin/busybox", true),
        ("etc/passwd", true),
        ("etc/motd", true),
        ("etc/group2", true),
        ("etc/group", false),
        ("var/www/old.html", false),
        ("var/www/index.html", true),
        ("etc/.wh.group", false),
    ] {
        check(root.join(path).exists() == present, || {
            format!("{path} present: {}, expected {present}", !present)
        })?;
    }
    check(
        fx.store
            .list()
            .map_err(|e| e.to_string())?
            .iter()
            .any(|i| i.id == id),
        || "list lacks the image".into(),
    )?;
    // A tag moves to the newly imported image.
    let mut tar = std::fs::File::open(&fx.busybox_tar).map_err(|e| e.to_string())?;
    fx.store
        .import(&mut tar, Some("test/app:v1"))
        .map_err(|e| e.to_string())?;
    check(
        fx.store.get("test/app:v1").map_err(|e| e.to_string())?.id == fx.busybox.id,
        || "tag did not move".into(),
    )?;
    check(
        fx.store
            .get(&id)
            .map_err(|e| e.to_string())?
            .repo_tags
            .is_empty(),
        || "old image kept the tag".into(),
    )?;
    // `reference` re-tags the archive's first image.
    let again = fx
        .store
        .import(&mut &archive[..], Some("app2"))
        .map_err(|e| e.to_string())?;
    check(again[0].repo_tags == ["app2:latest"], || {
        format!("re-tag gave {:?}", again[0].repo_tags)
    })?;
    Ok(())
}

pub fn archive_image_runs_with_its_config(fx: &Fixture) -> Result<(), String> {
    let image = fx.store.get("app2").map_err(|e| e.to_string())?;
    let args: Vec<&str> = image.config.cmd.iter().map(String::as_str).collect();
    let spec = fx.spec_of(&image, "app", &args);
    let (code, out) = run_to_end(fx, &spec)?;
    check(
        code == 0 && out == ["hello\n", "/var/www\n", "index.html\n", "motd\n"],
        || format!("code {code}, output {out:?}"),
    )?;
    // Removing by ID removes the image and its files.
    fx.store.remove(&image.id).map_err(|e| e.to_string())?;
    check(!image.layers[0].exists(), || "rootfs still on disk".into())?;
    check(
        matches!(fx.store.get("app2"), Err(RuntimeError::NotFound(_))),
        || "image still listed".into(),
    )
}

//! The `facegate` binary end to end on real photos: decisions, and clear errors with
//! stable codes for bad inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use facegate_vision::testing::{datasets_dir, jpeg, models_dir, png, png_claiming, repo_root};
use serde_json::Value;

fn facegate(args: &[&str]) -> Output {
    facegate_with_env(args, &[])
}

fn facegate_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(args)
        .current_dir(repo_root())
        .env("FACEGATE__LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Runs `facegate embed FILE` and returns the error code it reported.
fn error_code(file: &Path) -> String {
    let out = facegate(&["embed", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "client errors exit with 2");
    json(&out.stderr)["error"]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facegate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn verify_decides_with_the_default_threshold() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let lfw = data.join("lfw");
    let img = |p: &str| lfw.join(p).to_str().unwrap().to_owned();
    for pack in ["insightface", "open"] {
        let run = |a: &str, b: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
                .args(["verify", &img(a), &img(b)])
                .current_dir(repo_root())
                .env("FACEGATE__VISION__PACK", pack)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            json(&out.stdout)
        };
        let same = run(
            "Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
            "Aaron_Peirsol/Aaron_Peirsol_0003.jpg",
        );
        assert_eq!(same["decision"], "same", "{pack}: {same}");
        assert_eq!(same["low_confidence"], false, "{pack}: {same}");
        let different = run(
            "Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
            "Abel_Pacheco/Abel_Pacheco_0001.jpg",
        );
        assert_eq!(different["decision"], "different", "{pack}: {different}");
        assert_eq!(same["threshold"], different["threshold"]);
    }
}

#[test]
fn bad_inputs_give_stable_codes() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let photo = std::fs::read(data.join("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg")).unwrap();
    assert_eq!(error_code(&temp_file("empty.jpg", b"")), "invalid_image");
    assert_eq!(
        error_code(&temp_file("text.jpg", b"just some text\n")),
        "unsupported_format"
    );
    assert_eq!(
        error_code(&temp_file("truncated.jpg", &photo[..photo.len() / 2])),
        "invalid_image"
    );
    assert_eq!(
        error_code(&temp_file("tiny.png", &png(1, 1))),
        "image_too_small"
    );
    let huge = png_claiming(20_000, 20_000);
    assert_eq!(error_code(&temp_file("huge.png", &huge)), "image_too_large");
    // The sky above the swimmer's head: a real photo without a face.
    let sky = image::load_from_memory(&photo)
        .unwrap()
        .crop_imm(0, 0, 250, 55)
        .to_rgb8();
    assert_eq!(
        error_code(&temp_file("noface.jpg", &jpeg(sky))),
        "face_not_found"
    );
    assert_eq!(
        error_code(&data.join("lfw/no_such_person/none.jpg")),
        "invalid_image"
    );
}

/// A reader that closes the pipe before the answer (`facegate detect x | head -c 0`) ends
/// the command quietly, not in a panic.
#[test]
fn a_closed_stdout_is_no_panic() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let img = data.join("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["detect", img.to_str().unwrap()])
        .current_dir(repo_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed while the models load, before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn detect_draws_and_reports_faces() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let out_png = temp_file("drawn.png", b"");
    let img = data.join("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    let out = facegate(&[
        "detect",
        img.to_str().unwrap(),
        "--draw",
        out_png.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let body = json(&out.stdout);
    let faces = body["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 5);
    let drawn = image::open(&out_png).unwrap().to_rgb8();
    assert_eq!(drawn.dimensions(), (250, 250));
    assert!(
        drawn.pixels().any(|p| p.0 == [0, 255, 0]),
        "a green box is drawn"
    );
}

#[test]
fn models_lists_the_active_pack_and_its_licence() {
    let out = facegate(&["models"]);
    assert!(out.status.success());
    let body = json(&out.stdout);
    assert_eq!(body["active_pack"], "insightface");
    assert!(
        body["active_pack_license"]
            .as_str()
            .unwrap()
            .contains("non-commercial")
    );
    assert!(body["files"].as_array().unwrap().len() >= 10);
}

/// `facegate migrate` on the embedded store: up applies every migration, `down` reverts
/// the newest, `down --to 0` all of them, `status` lists them, `up` again restores.
#[test]
fn migrate_applies_lists_and_reverts_the_schema() {
    let dir = tempfile::Builder::new()
        .prefix("facegate-migrate-")
        .tempdir()
        .unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let migrate = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .arg("migrate")
            .args(args)
            .env("FACEGATE__STORAGE__DATA_DIR", &data)
            .env("FACEGATE__LOG__LEVEL", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&out.stdout);
        assert_eq!(report["store"], "embedded", "{report}");
        report["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["applied"].as_bool().unwrap())
            .collect::<Vec<_>>()
    };
    let all = migrate(&[]);
    assert!(all.len() >= 5 && all.iter().all(|a| *a), "{all:?}");
    let newest_reverted = migrate(&["down"]);
    assert_eq!(newest_reverted.iter().filter(|a| !**a).count(), 1);
    assert_eq!(newest_reverted.last(), Some(&false));
    assert!(migrate(&["down", "--to", "0"]).iter().all(|a| !*a));
    assert!(migrate(&["status"]).iter().all(|a| !*a));
    assert!(migrate(&["up"]).iter().all(|a| *a));
    assert!(dir.path().join("facegate.sqlite3").exists());
}

#[test]
fn config_print_names_the_carried_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["config", "print"])
        .current_dir(repo_root())
        .env("API_KEYS", "facepass-key-0123456789,second-key-0123456789")
        .env(
            "DATABASE_URL",
            "postgresql+asyncpg://u:secret@db:5432/faces",
        )
        .env("S3_BUCKET_NAME", "faces")
        .env("FACEGATE__POLICY__MAX_RESULTS", "7")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "# API_KEYS -> auth.static_api_keys",
        "# DATABASE_URL -> database.url",
        "# S3_BUCKET_NAME -> storage.object_store_url",
        "object_store_url = \"s3://faces\"",
        "max_results = 7",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    // Secrets are shown redacted, never as given.
    assert!(
        !text.contains("secret@db") && !text.contains("facepass-key"),
        "{text}"
    );
    assert!(
        text.contains("static_api_keys = [\n    \"<redacted>\",\n    \"<redacted>\",\n]"),
        "{text}"
    );

    let short = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["config", "print"])
        .current_dir(repo_root())
        .env("API_KEYS", "key1,key2")
        .output()
        .unwrap();
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("at least 16 characters"), "{stderr}");
}

#[test]
fn eval_reads_the_genuine_impostor_liveness_layout_and_sweeps_thresholds() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("test_data");
    let link = |from: &Path, to: &str| {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(from, to).unwrap();
    };
    let lfw = data.join("lfw");
    // The person's n-th photo in name order (LFW's numbers have gaps).
    let photo = |person: &str, n: usize| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(lfw.join(person))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.swap_remove(n)
    };
    let people = [
        "Aaron_Peirsol",
        "Alan_Greenspan",
        "Abdullah_Gul",
        "Adam_Sandler",
    ];
    for person in people {
        link(&photo(person, 0), &format!("genuine/{person}/1.jpg"));
        link(&photo(person, 1), &format!("genuine/{person}/2.jpg"));
    }
    for (i, pair) in people.windows(2).enumerate() {
        link(&photo(pair[0], 0), &format!("impostor/p{i}/a.jpg"));
        link(&photo(pair[1], 1), &format!("impostor/p{i}/b.jpg"));
    }
    let pad = data.join("pad/nuaa-train-sample");
    let labels = std::fs::read_to_string(pad.join("labels.csv")).unwrap();
    for label in ["live", "spoof"] {
        for file in labels
            .lines()
            .filter(|l| l.split(',').nth(1) == Some(label))
            .take(3)
            .map(|l| l.split(',').next().unwrap())
        {
            let name = Path::new(file).file_name().unwrap().to_str().unwrap();
            link(&pad.join(file), &format!("liveness/{label}/{name}"));
        }
    }
    let results = dir.path().join("results");
    let out = facegate(&[
        "eval",
        "--data-dir",
        root.to_str().unwrap(),
        "--output",
        results.to_str().unwrap(),
        "--threshold-range",
        "0.1,0.9",
        "--num-points",
        "5",
        "--generate-plots",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&std::fs::read(results.join("eval-insightface.json")).unwrap());
    assert_eq!(
        (&report["num_pairs"], &report["num_same_pairs"]),
        (&7.into(), &4.into()),
        "{report}"
    );
    let sweep = report["threshold_sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 5, "{report}");
    assert!((sweep[4]["threshold"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    // At 0.1 every same-person pair of these clear photos is accepted.
    assert_eq!(sweep[0]["tar"], 1.0, "{report}");
    let pad = json(&std::fs::read(results.join("eval-pad-insightface-liveness.json")).unwrap());
    assert_eq!(
        (&pad["metrics"]["live"], &pad["metrics"]["spoof"]),
        (&3.into(), &3.into()),
        "{pad}"
    );
    assert_eq!(pad["threshold_sweep"].as_array().unwrap().len(), 5, "{pad}");
    assert!(results.join("roc-insightface.png").exists());
    assert!(
        stdout.contains("APCER") && stdout.contains("threshold"),
        "{stdout}"
    );
}

#[test]
fn a_heic_photo_verifies_against_a_jpeg_of_the_same_person() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let lfw = data.join("lfw/Aaron_Peirsol");
    let dir = tempfile::tempdir().unwrap();
    let heic = dir.path().join("phone.heic");
    let encoded = Command::new("heif-enc")
        .args(["-q", "70", "-o"])
        .arg(&heic)
        .arg(lfw.join("Aaron_Peirsol_0001.jpg"))
        .output()
        .expect("heif-enc (Debian's libheif-examples) is installed by setup");
    assert!(encoded.status.success(), "{encoded:?}");
    assert_eq!(&std::fs::read(&heic).unwrap()[4..12], b"ftypheic");
    assert_same_person(&heic, &lfw.join("Aaron_Peirsol_0003.jpg"));
}

/// A frontal and a profile photo of one cfp-dev person: the open pack's default (MobileFaceNet
/// fused with dlib's ResNet) says "same" at its default threshold, where MobileFaceNet alone
/// (the earlier default) says "different". Both photos are of Elizabeth Warren; at the
/// default thresholds the fusion accepts 119 of cfp-dev's 3,500 genuine frontal-profile pairs
/// that MobileFaceNet rejects (and rejects 173 it accepted; docs/ACCURACY.md).
#[test]
fn the_open_pack_matches_a_frontal_and_a_profile_photo_of_one_person() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let person = data.join("cfp-dev/152_Elizabeth_Warren");
    let (frontal, profile) = (person.join("frontal_06.jpg"), person.join("profile_03.jpg"));
    let verify = |embedding: Option<&str>| {
        let mut env = vec![("FACEGATE__VISION__PACK", "open")];
        env.extend(embedding.map(|e| ("FACEGATE__VISION__EMBEDDING", e)));
        let out = facegate_with_env(
            &[
                "verify",
                frontal.to_str().unwrap(),
                profile.to_str().unwrap(),
            ],
            &env,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out.stdout)
    };
    let fused = verify(None);
    assert_eq!(
        fused["model"], "open/mobilefacenet+dlib_resnet@1",
        "{fused}"
    );
    assert_eq!(fused["decision"], "same", "{fused}");
    let alone = verify(Some("mobilefacenet"));
    assert_eq!(alone["decision"], "different", "{alone}");
}

/// `facegate verify a b` decides "same".
fn assert_same_person(a: &Path, b: &Path) {
    let out = facegate(&["verify", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out.stdout)["decision"], "same");
}

/// A 48 MP phone photo (8000x6000) of a plain background with an LFW photo of Aaron
/// Peirsol enlarged to `side` pixels pasted at (2500, 1500).
fn photo_48_megapixels(lfw: &Path, side: u32) -> PathBuf {
    let face = image::open(lfw.join("Aaron_Peirsol_0001.jpg"))
        .unwrap()
        .resize_exact(side, side, image::imageops::FilterType::Triangle)
        .into_rgb8();
    let mut photo = image::RgbImage::from_fn(8000, 6000, |x, y| {
        image::Rgb([(x / 32 % 200) as u8, (y / 24 % 200) as u8, 140])
    });
    image::imageops::replace(&mut photo, &face, 2500, 1500);
    temp_file(&format!("phone-48mp-{side}.jpg"), &jpeg(photo))
}

/// `facegate embed` of `photo`, with `FACEGATE__VISION__MAIN_FACE_DECODE_SIDE` set to
/// `decode_side` when given.
fn embed(photo: &Path, decode_side: Option<&str>) -> Value {
    let env: Vec<(&str, &str)> = decode_side
        .map(|side| ("FACEGATE__VISION__MAIN_FACE_DECODE_SIDE", side))
        .into_iter()
        .collect();
    let out = facegate_with_env(&["embed", photo.to_str().unwrap()], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

/// A 48 MP photo is decoded at a quarter of its sides for the main face
/// (`vision.main_face_decode_side`), verifies against a small photo of the same person,
/// and its face box is told in the photo's own pixels.
#[test]
fn a_48_megapixel_photo_verifies_with_its_box_in_its_own_pixels() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let lfw = data.join("lfw/Aaron_Peirsol");
    let big = photo_48_megapixels(&lfw, 3000);
    assert_same_person(&big, &lfw.join("Aaron_Peirsol_0003.jpg"));
    let bbox = &embed(&big, None)["face"]["bbox"];
    let side = |k: &str| bbox[k].as_f64().unwrap();
    // The pasted photo spans 2500..5500 x 1500..4500; its face fills about its middle.
    assert!(
        side("x1") > 2500.0 && side("x2") < 5500.0 && side("x2") - side("x1") > 800.0,
        "{bbox}"
    );
    assert!(side("y1") > 1500.0 && side("y2") < 4500.0, "{bbox}");
}

/// A face too small to embed well at the reduced scale (16 px between the eyes there, 66
/// in the photo) is embedded from the whole photo: its quality is that of the whole
/// photo's face, above the enrollment minimum (0.2), where at the reduced scale the size
/// alone would hold it under 0.18.
#[test]
fn a_small_face_in_a_48_megapixel_photo_is_embedded_from_the_whole_photo() {
    let (Some(_), Some(data)) = (models_dir(), datasets_dir()) else {
        return;
    };
    let small = photo_48_megapixels(&data.join("lfw/Aaron_Peirsol"), 400);
    let quality = |v: &Value| v["quality"].as_f64().unwrap();
    let (default, whole) = (embed(&small, None), embed(&small, Some("0")));
    assert!(quality(&default) > 0.2, "{}", quality(&default));
    assert!((quality(&default) - quality(&whole)).abs() < 0.05);
}

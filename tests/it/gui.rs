//! The desktop window as a person sees it: the real app (`TuneAtlasApp`)
//! driven by egui_kittest and rendered with wgpu (lavapipe in CI) —
//! welcome page, library table, map and track panel over a real SQLite
//! library imported from generated audio with the built-in model. Snapshots
//! live in `tests/snapshots/` (`UPDATE_SNAPSHOTS=1` rewrites them).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use tuneatlas::app::{AppOptions, TuneAtlasApp};
use tuneatlas::jobs::CancelToken;
use tuneatlas::library::{ImportOptions, import_folder_with};
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;
use tuneatlas::store::{Store, TagSource};

use crate::common::write_wav;

/// Window size of every GUI test (the snapshots' size).
const SIZE: egui::Vec2 = egui::Vec2::new(1100.0, 700.0);

/// A fixed folder per test: the status bar shows the library path, so it
/// must not be a random temp name or snapshots would differ run to run.
///
/// Fixed names would collide between two test processes on one machine (two
/// checkouts tested at once), so the first call takes an exclusive lock on
/// the folders' root that the process holds until it exits: a second
/// process waits there instead of deleting the first one's libraries.
pub(crate) fn scratch(name: &str) -> PathBuf {
    static ROOT_LOCK: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();
    let root = std::env::temp_dir().join("tuneatlas-gui-tests");
    std::fs::create_dir_all(&root).expect("scratch root");
    ROOT_LOCK.get_or_init(|| {
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(".lock"))
            .expect("lock file");
        lock.lock().expect("lock on the GUI tests' folders");
        lock
    });
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A small real library: 24 generated tracks in three "albums" of low, mid
/// and high tones, imported and embedded with the built-in model.
pub(crate) fn small_library(dir: &Path) -> PathBuf {
    let music = dir.join("music");
    for (album, base_hz) in [("Low Tones", 110.0), ("Middle Tones", 440.0), ("High Tones", 1760.0)] {
        for i in 0..8 {
            let freq_hz = base_hz * (1.0 + 0.06 * i as f64);
            write_wav(&music.join(album).join(format!("{album} {:02}.wav", i + 1)), 8.0, freq_hz, 22_050);
        }
    }
    let db = dir.join("library.db");
    let mut store = Store::open(&db).expect("store");
    let mut embedder = Embedder::open(None, DeviceChoice::Cpu).expect("built-in model");
    let summary = import_folder_with(
        &mut store,
        &music,
        &ImportOptions::default(),
        Some(&mut embedder),
        &CancelToken::new(),
        |_| {},
    )
    .expect("import");
    assert_eq!(summary.counts.new, 24, "{summary:#?}");
    db
}

/// Window options for a test: `db` named explicitly, no audio device.
pub fn options(db: PathBuf) -> AppOptions {
    AppOptions {
        db,
        db_explicit: true,
        audio: false,
        demo: false,
        screenshot: None,
        startup_report: false,
        started_at: Instant::now(),
    }
}

pub(crate) fn harness(db: PathBuf) -> Harness<'static, TuneAtlasApp> {
    Harness::builder().with_size(SIZE).wgpu().build_eframe(move |cc| TuneAtlasApp::new(cc, options(db)))
}

/// Steps the app until its background work (library load, map layout) is
/// done, as a person would wait for the spinner to go away.
pub(crate) fn settle(harness: &mut Harness<'static, TuneAtlasApp>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        harness.step();
        if harness.state().is_settled() {
            break;
        }
        assert!(Instant::now() < deadline, "the window did not settle in 120 s");
        std::thread::sleep(Duration::from_millis(30));
    }
    // A few more frames for layout to converge (panels size themselves).
    for _ in 0..4 {
        harness.step();
    }
}

/// Pixels that are neither the dark theme's backgrounds nor grey text:
/// coloured map points (and the few coloured widgets).
fn coloured_pixels(image: &image::RgbaImage) -> usize {
    image
        .pixels()
        .filter(|p| {
            let [r, g, b, _] = p.0;
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            max > 60 && max - min > 60
        })
        .count()
}

#[test]
fn first_run_shows_the_welcome_page_with_import_and_demo() {
    let dir = scratch("welcome");
    let mut harness = harness(dir.join("library.db"));
    settle(&mut harness);
    harness.get_by_label("Welcome to tuneatlas");
    harness.get_by_label("Choose folder…");
    harness.get_by_label("Try the demo library");
    harness.snapshot("welcome");
}

#[test]
fn the_library_view_lists_tracks_with_their_tags_and_the_player_says_there_is_no_audio() {
    let dir = scratch("library");
    let db = small_library(&dir);
    let mut harness = harness(db);
    settle(&mut harness);
    harness.get_by_label("Low Tones 01");
    harness.get_by_label("24 tracks");
    // Each top-bar button has a name of its own (`get_by_label` fails on two):
    // the view toggle says what it shows, the menu what it acts on.
    for label in ["Table", "Map", "Library", "Track panel", "Export"] {
        harness.get_by_label(label);
    }
    assert!(
        harness.query_all_by_label_contains("No audio output").next().is_some(),
        "the player bar explains"
    );
    harness.snapshot("library");
}

#[test]
fn the_map_draws_every_track_as_a_coloured_point_with_a_legend() {
    let dir = scratch("map");
    let db = small_library(&dir);
    let mut harness = harness(db);
    settle(&mut harness);
    harness.get_by_label("Map").click();
    settle(&mut harness);
    assert!(harness.query_all_by_label_contains("24 tracks").next().is_some(), "the map says what it shows");
    harness.get_by_label("Colour by");
    let image = harness.render().expect("render");
    // 24 points of radius ≥ 2 px and the legend's dots: far more coloured
    // pixels than the widgets alone have (measured: the library view has
    // fewer than 200).
    let coloured = coloured_pixels(&image);
    assert!(coloured > 400, "only {coloured} coloured pixels: are the points drawn?");
    // The region labels sit where the layout's regions happen to fall
    // (`gui_map.rs` tests them): hidden for the snapshot.
    harness.get_by_label("Labels").click();
    harness.run_steps(3);
    // The layout itself varies between runs (the vectors come from a
    // multi-threaded CPU backend, and t-SNE amplifies last-bit differences:
    // same clusters, other positions — measured: 956 pixels differ, all of
    // them points). So the snapshot pins everything around the points (tool
    // bar, legend, panels), allowing the points' own pixels to move; that
    // they are drawn at all is the coloured-pixel assertion above.
    harness.snapshot_options("map", &SnapshotOptions::new().max_failed_pixels(2_500));
}

/// After tagging, the map can be coloured by the user's own tags of one set
/// (how one sees whether a fine-tuned model groups them).
#[test]
fn the_map_can_be_coloured_by_the_users_own_tags() {
    let dir = scratch("map_user_tags");
    let db = small_library(&dir);
    {
        let mut store = Store::open(&db).unwrap();
        let tracks = store.tracks(false).unwrap();
        let low: Vec<i64> =
            tracks.iter().filter(|t| t.album.as_deref() == Some("Low Tones")).map(|t| t.id).collect();
        let high: Vec<i64> =
            tracks.iter().filter(|t| t.album.as_deref() == Some("High Tones")).map(|t| t.id).collect();
        assert_eq!((low.len(), high.len()), (8, 8));
        store.add_user_tags(&low, "register", &["rumbling"], TagSource::User).unwrap();
        store.add_user_tags(&high[..5], "register", &["piercing"], TagSource::User).unwrap();
    }
    let mut harness = harness(db);
    settle(&mut harness);
    harness.get_by_label("Map").click();
    settle(&mut harness);
    harness.get_by_label("Colour by").click();
    harness.run();
    harness.get_by_label("your tags: register").click();
    settle(&mut harness);
    // The legend: both tags with their counts, the 11 untagged tracks grey.
    for label in ["rumbling", "8", "piercing", "5", "untagged", "11"] {
        assert!(harness.query_by_label(label).is_some(), "legend entry {label:?} missing");
    }
}

/// A library embedded by an earlier build, whose built-in model was then
/// "dpnn-v0.9": the status bar offers to re-embed with the built-in model;
/// accepting embeds every track in the background and switches the view.
#[test]
fn a_library_from_an_earlier_built_in_model_is_offered_a_re_embedding() {
    let dir = scratch("upgrade");
    let db = small_library(&dir);
    let builtin = tuneatlas::model::record::embedded_card().unwrap().version;
    crate::common::pretend_earlier_model(&db, "dpnn-v0.9");
    let mut harness = harness(db.clone());
    settle(&mut harness);
    let offer = format!("This library shows dpnn-v0.9; the built-in model is now {builtin}");
    assert!(harness.query_by_label_contains(&offer).is_some(), "the offer is shown");
    harness.get_by_label(&format!("Re-embed with {builtin}")).click();
    let deadline = Instant::now() + Duration::from_secs(180);
    while harness.query_by_label_contains("Re-embedded 24 tracks").is_none() {
        assert!(Instant::now() < deadline, "re-embedding did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    settle(&mut harness);
    assert!(harness.query_by_label_contains(&format!("model {builtin} ·")).is_some(), "the view switched");
    assert!(harness.query_by_label_contains("This library shows").is_none(), "the offer is gone");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.count_vectors(&builtin).unwrap(), 24);
    assert_eq!(store.count_vectors("dpnn-v0.9").unwrap(), 24, "the earlier vectors stay");
}

#[test]
fn selecting_a_track_fills_the_track_panel_with_tags_and_similar_tracks() {
    let dir = scratch("track_panel");
    let db = small_library(&dir);
    let mut harness = harness(db);
    settle(&mut harness);
    harness.get_by_label("Low Tones 03").click();
    settle(&mut harness);
    harness.get_by_label("Similar tracks");
    harness.get_by_label("Your tags");
    harness.get_by_label("genre");
    // The nearest neighbours of a low tone are other low tones.
    assert!(
        harness.query_all_by_label_contains("Low Tones 0").count() >= 3,
        "low tones are similar to low tones"
    );
    harness.snapshot("track_panel");
}

/// The window's similar-track list and `tuneatlas similar` are one rule:
/// for the same track, with and without "not same album", they list the
/// same tracks in the same order.
#[test]
fn the_track_panel_and_the_similar_command_list_the_same_tracks() {
    let dir = scratch("similar_same_as_cli");
    let db = small_library(&dir);
    let mut harness = harness(db.clone());
    settle(&mut harness);
    harness.get_by_label("Low Tones 03").click();
    settle(&mut harness);
    let cli = |extra: &[&str]| -> Vec<i64> {
        let store = Store::open(&db).unwrap();
        let id = store.tracks(false).unwrap().into_iter().find(|t| t.title == "Low Tones 03").unwrap().id;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
            .env_remove("TUNEATLAS_DB")
            .arg("--db")
            .arg(&db)
            .args(["similar", &id.to_string(), "-k", "20", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["neighbors"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect()
    };
    let all = harness.state().shown_similar_ids().expect("the panel shows a list");
    assert_eq!(all.len(), 20);
    assert_eq!(all, cli(&[]));
    harness.get_by_label("not same album").click();
    settle(&mut harness);
    let other_albums = harness.state().shown_similar_ids().expect("the panel shows a list");
    assert_eq!(other_albums, cli(&["--exclude-same-album"]));
    assert_eq!(other_albums.len(), 16, "the 7 other low tones are left out");
}

/// The variety rules in the window are the core's: on a library where one
/// artist would fill the list and the seed has copies, the panel lists what
/// `tuneatlas similar` lists, with the same per-artist cap, and the setting
/// is in the panel.
#[test]
fn the_track_panel_applies_the_per_artist_cap_and_leaves_out_copies_like_the_cli() {
    let dir = scratch("similar_variety");
    let db = crate::similar_variety::library(&dir);
    let mut harness = harness(db.clone());
    settle(&mut harness);
    harness.get_by_label("Seed").click();
    settle(&mut harness);
    harness.get_by_label("per artist");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("--db")
        .arg(&db)
        .args(["similar", "Aardvark - Seed", "-k", "20", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli: Vec<i64> =
        json["neighbors"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    let shown = harness.state().shown_similar_ids().expect("the panel shows a list");
    assert_eq!(shown, cli);
    let store = Store::open(&db).unwrap();
    let monos = store.tracks(false).unwrap().into_iter().filter(|t| t.title.starts_with("Mono"));
    let monos: Vec<i64> = monos.map(|t| t.id).collect();
    assert_eq!(shown[..10].iter().filter(|id| monos.contains(id)).count(), 2, "two by Mono in the first ten");
}

/// The real binary in a real window: under Xvfb (a virtual X server) with
/// lavapipe for wgpu, `tuneatlas --screenshot` opens the window on a small
/// library, waits until it is ready, saves what the window shows and quits.
#[test]
fn the_real_binary_opens_a_window_under_xvfb_and_screenshots_it() {
    let dir = scratch("xvfb");
    let db = small_library(&dir);
    let png = dir.join("window.png");
    let output = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x900x24"])
        .arg(env!("CARGO_BIN_EXE_tuneatlas"))
        .arg("--db")
        .arg(&db)
        .arg("--no-audio")
        .arg("--screenshot")
        .arg(&png)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("xvfb-run (Debian package xvfb) must be installed to run this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tuneatlas under Xvfb failed: {stderr}");
    let image =
        image::open(&png).unwrap_or_else(|e| panic!("no screenshot ({e}); stderr: {stderr}")).to_rgba8();
    assert!(image.width() >= 700 && image.height() >= 450, "{}×{}", image.width(), image.height());
    // Not a blank frame: the dark theme's panels, text and buttons give many
    // distinct colours.
    let distinct: std::collections::HashSet<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 50, "only {} distinct colours: blank window?", distinct.len());
}

/// No graphics adapter at all (no GPU driver, not even lavapipe): the window
/// cannot open, so the binary says why and what to install instead of
/// panicking, and the rest of tuneatlas still works — an import on the same
/// machine embeds on the CPU and says so.
#[test]
fn without_a_graphics_adapter_the_app_explains_and_the_cli_still_works() {
    let dir = scratch("no-gpu");
    let music = dir.join("music");
    for i in 0..3 {
        write_wav(&music.join(format!("tone {i}.wav")), 6.0, 220.0 * f64::from(i + 1), 22_050);
    }
    let db = dir.join("library.db");
    let no_adapter = |c: &mut std::process::Command| {
        c.env("WGPU_BACKEND", "vulkan")
            .env("VK_ICD_FILENAMES", dir.join("no-such-driver.json"))
            .env("VK_DRIVER_FILES", dir.join("no-such-driver.json"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("TUNEATLAS_DB");
    };
    let mut window = std::process::Command::new("xvfb-run");
    window
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_tuneatlas"))
        .arg("--db")
        .arg(&db);
    no_adapter(window.arg("--no-audio"));
    let out = window.output().expect("xvfb-run (Debian package xvfb) must be installed to run this test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the window opened without any adapter? {stderr}");
    assert!(stderr.contains("No graphics adapter could draw the window"), "{stderr}");
    assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let mut import = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"));
    import.arg("import").arg(&music).arg("--db").arg(&db);
    no_adapter(&mut import);
    let out = import.output().expect("run tuneatlas import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import without an adapter failed: {stderr}");
    assert!(stderr.contains("running on the CPU"), "the CPU fallback must be announced: {stderr}");
    let store = Store::open(&db).expect("store");
    assert_eq!(store.tracks(false).expect("tracks").len(), 3);
    let version = store.latest_model_version().expect("models").expect("embedded");
    assert_eq!(store.track_vectors(&version).expect("vectors").len(), 3);
}

/// The two point renderers (instanced quads for GPUs, discs drawn on the CPU for
/// CPU adapters like this machine's lavapipe) must draw the same picture:
/// the same discs, the same antialiased edges, later points on top.
#[test]
fn the_splat_and_quad_map_renderers_draw_the_same_points() {
    use tuneatlas::app::{OffscreenMap, PointCloud, RendererKind, ViewTransform};
    let size_px = [400u32, 240u32];
    let mut positions = Vec::new();
    let mut colors = Vec::new();
    // Separate discs on a grid, at sub-pixel offsets...
    for row in 0..12 {
        for col in 0..20 {
            let x = -0.9 + 1.8 * (col as f32 + 0.13 * (row % 3) as f32) / 20.0;
            let y = -0.85 + 1.7 * (row as f32 + 0.29 * (col % 4) as f32) / 12.0;
            positions.push([x, y]);
            colors.push(egui::Color32::from_rgb((col * 12) as u8, (row * 20) as u8, 200));
        }
    }
    // ...and two overlapping ones: the later (blue) lies on top.
    positions.extend([[0.905, 0.905], [0.915, 0.905]]);
    colors.extend([egui::Color32::RED, egui::Color32::BLUE]);
    let n = positions.len();
    let cloud = std::sync::Arc::new(PointCloud { generation: 1, positions, colors });
    let view = ViewTransform { scale: [1.0, -1.0], offset: [0.0, 0.0], radius_px: 3.0 };
    let render = |kind| {
        let mut target = OffscreenMap::new(size_px, Some(kind)).expect("wgpu adapter (lavapipe in CI)");
        assert_eq!(target.kind(), kind);
        target.draw(&cloud, view).expect("draw");
        target.read_rgba().expect("read back")
    };
    let quads = render(RendererKind::Quads);
    let splat = render(RendererKind::Splat);
    let lit = |img: &[u8]| img.chunks(4).filter(|p| p[..3].iter().any(|&c| c > 0)).count();
    // Each 3-px disc covers about π·3² ≈ 28 pixels (plus its rim).
    assert!(lit(&quads) > n * 25, "quads lit only {} pixels", lit(&quads));
    // The splat snaps centres to 1/16 px (map_render/splat.rs), which moves
    // an antialiased edge pixel's coverage by at most 0.045: 12 of 255.
    let diff = |(a, b): (&[u8], &[u8])| a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    let worst = quads.chunks(4).zip(splat.chunks(4)).map(diff).max().unwrap_or(0);
    assert!(worst <= 12, "a pixel differs by {worst}");
    // The same pixels are lit (up to the faintest rim pixels the snap turns on or off).
    let on = |p: &[u8]| p[..3].iter().any(|&c| c > 0);
    let mismatched = quads.chunks(4).zip(splat.chunks(4)).filter(|(a, b)| on(a) != on(b)).count();
    assert!(mismatched * 100 <= lit(&quads), "{mismatched} of {} lit pixels lit in one only", lit(&quads));
    // The overlap: the blue point's centre pixel is blue in both. Layout
    // coordinates: the view flips y (clip y = -layout y), and screen rows
    // grow downwards from clip y = 1, so row = (1 + layout y) / 2 · height.
    let pixel = |img: &[u8], x: f32, y: f32| {
        let px = ((x + 1.0) / 2.0 * size_px[0] as f32) as usize;
        let py = ((1.0 + y) / 2.0 * size_px[1] as f32) as usize;
        let i = (py * size_px[0] as usize + px) * 4;
        [img[i], img[i + 1], img[i + 2]]
    };
    assert_eq!(pixel(&quads, 0.917, 0.905), [0, 0, 255]);
    assert_eq!(pixel(&splat, 0.917, 0.905), [0, 0, 255]);
}

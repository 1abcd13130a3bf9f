//! Several seeds in the window (egui_kittest): a selection made in the
//! table (ctrl-click) or on the map (shift-drag lasso) is played as "similar
//! to these" or re-ordered "as a smooth path" by the core's functions
//! (`browse::similar_to_many`, `index::smooth_order`) — the lists the
//! window queues and saves as M3U are the ones computed directly and the
//! ones `tuneatlas similar` and `tuneatlas path --order` write.

use std::path::Path;
use std::time::{Duration, Instant};

use egui::{Event, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tuneatlas::app::TuneAtlasApp;
use tuneatlas::browse::{LibrarySnapshot, SimilarOptions, similar_to_many};
use tuneatlas::index::smooth_order;

use crate::gui::{harness, scratch, settle, small_library};

/// Runs `tuneatlas ARGS… --json --m3u OUT` on `db`; returns the listed ids
/// (from the JSON array `list`) and the playlist written.
fn cli(db: &Path, args: &[String], list: &str, m3u: &Path) -> (Vec<i64>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tuneatlas"))
        .env_remove("TUNEATLAS_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .arg("--json")
        .arg("--m3u")
        .arg(m3u)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = json[list].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    (ids, std::fs::read_to_string(m3u).unwrap())
}

/// Steps until the player bar's queue holds `n` tracks.
fn wait_for_queue(harness: &mut Harness<'static, TuneAtlasApp>, n: usize) {
    let label = format!("Queue ({n})");
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.query_by_label(&label).is_none() {
        assert!(Instant::now() < deadline, "the queue never held {n} tracks");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn play_similar_to_a_table_selection_queues_and_saves_what_the_core_lists() {
    let dir = scratch("similar_to_these");
    let db = small_library(&dir);
    let mut harness = harness(db.clone());
    settle(&mut harness);
    // The track panel lists most titles too (similar tracks): hidden while
    // picking rows, so each title names one row.
    harness.get_by_label("Track panel").click();
    harness.run_steps(2);
    harness.get_by_label("Low Tones 02").click();
    harness.run_steps(2);
    harness.get_by_label("Low Tones 05").click_modifiers(Modifiers::COMMAND);
    harness.run_steps(2);
    harness.get_by_label("High Tones 03").click_modifiers(Modifiers::COMMAND);
    harness.run_steps(2);
    harness.get_by_label("Track panel").click();
    settle(&mut harness);
    harness.get_by_label("3 tracks selected");
    harness.get_by_label("Play similar to these").click();
    settle(&mut harness);

    let snapshot = LibrarySnapshot::load(&db, None).unwrap();
    let id = |title: &str| snapshot.tracks.iter().find(|t| t.title == title).unwrap().id;
    let seeds = [id("Low Tones 02"), id("Low Tones 05"), id("High Tones 03")];
    let core: Vec<i64> = similar_to_many(&snapshot, &seeds, 20, SimilarOptions::default())
        .unwrap()
        .iter()
        .map(|s| s.track_id)
        .collect();
    assert_eq!(core.len(), 20);
    assert!(core.iter().all(|id| !seeds.contains(id)), "never a seed");
    let shown = harness.state().shown_playlist().expect("a playlist is shown");
    assert_eq!(shown, core);
    harness.get_by_label("Similar to 3 tracks");
    wait_for_queue(&mut harness, 20);

    // Saved as M3U: byte for byte what the command line writes.
    let args: Vec<String> = ["similar".to_owned(), "-k".to_owned(), "20".to_owned()]
        .into_iter()
        .chain(seeds.iter().map(i64::to_string))
        .collect();
    let (cli_ids, cli_m3u) = cli(&db, &args, "neighbors", &dir.join("cli.m3u"));
    assert_eq!(cli_ids, core);
    let saved = dir.join("window.m3u");
    harness.state().save_playlist_as_m3u(&saved).unwrap();
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), cli_m3u);
    harness.get_by_label("Save as M3U…");
}

#[test]
fn a_lasso_on_the_map_is_played_as_a_smooth_path_in_the_cores_order() {
    let dir = scratch("smooth_path");
    let db = small_library(&dir);
    let mut harness = harness(db.clone());
    settle(&mut harness);
    harness.get_by_label("Map").click();
    settle(&mut harness);
    // Shift-drag a lasso around the whole map (every point lies inside the
    // fitted view's margin).
    let area = harness.state().map_figures().area.expect("the map is drawn").shrink(4.0);
    let corners =
        [area.left_top(), area.right_top(), area.right_bottom(), area.left_bottom(), area.left_top()];
    harness.event(Event::PointerMoved(corners[0]));
    harness.event(Event::ModifiersChanged(Modifiers::SHIFT));
    let press = |pressed, pos: Pos2| Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::SHIFT,
    };
    harness.event(press(true, corners[0]));
    for pair in corners.windows(2) {
        for k in 1..=8 {
            harness.event(Event::PointerMoved(pair[0] + (pair[1] - pair[0]) * (k as f32 / 8.0)));
        }
    }
    harness.event(press(false, corners[4]));
    harness.event(Event::ModifiersChanged(Modifiers::NONE));
    settle(&mut harness);
    harness.get_by_label("24 tracks selected");
    harness.get_by_label("Order as a smooth path").click();
    settle(&mut harness);

    let snapshot = LibrarySnapshot::load(&db, None).unwrap();
    // The selection in the table's order (the library's listing order).
    let selection: Vec<i64> = snapshot.tracks.iter().map(|t| t.id).collect();
    let core = smooth_order(snapshot.index.as_ref().unwrap(), &selection).unwrap();
    let shown = harness.state().shown_playlist().expect("a playlist is shown");
    assert_eq!(shown, core);
    assert_ne!(shown, selection, "re-ordered");
    harness.get_by_label("24 tracks as a smooth path");
    wait_for_queue(&mut harness, 24);

    let args: Vec<String> = ["path".to_owned(), "--order".to_owned()]
        .into_iter()
        .chain(selection.iter().map(i64::to_string))
        .collect();
    let (cli_ids, cli_m3u) = cli(&db, &args, "tracks", &dir.join("cli.m3u"));
    assert_eq!(cli_ids, core);
    let saved = dir.join("window.m3u");
    harness.state().save_playlist_as_m3u(&saved).unwrap();
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), cli_m3u);
}

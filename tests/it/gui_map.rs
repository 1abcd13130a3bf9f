//! The map in the window (egui_kittest, wgpu on lavapipe): it fits the
//! space it has whenever that changes until the user zooms or pans, keeps
//! its legend clear of points, and names its regions with the core's labels
//! (`map::region_labels`, the rule `tuneatlas map` prints), at one size at
//! every zoom, hideable.

use egui::{Event, Pos2, Rect, Vec2};
use egui_kittest::kittest::Queryable;
use tuneatlas::app::MapFigures;
use tuneatlas::browse::LibrarySnapshot;
use tuneatlas::jobs::CancelToken;
use tuneatlas::map::labels::MIN_REGION_TRACKS;
use tuneatlas::map::{LayoutParams, layout_for_library, region_labels, regions};
use tuneatlas::store::{Store, TagSource};

use crate::gui::{harness, scratch, settle, small_library};

/// The map's figures on the last frame.
fn figures(harness: &egui_kittest::Harness<'static, tuneatlas::app::TuneAtlasApp>) -> MapFigures {
    harness.state().map_figures()
}

/// Every point is in view and none under the legend.
fn assert_all_visible(f: &MapFigures, when: &str) {
    assert_eq!(f.points, 24, "{when}: {f:?}");
    assert_eq!(f.points_in_view, 24, "{when}: every point in view: {f:?}");
    assert_eq!(f.points_under_legend, 0, "{when}: the legend covers points: {f:?}");
    assert!(f.legend.is_some(), "{when}: a legend is drawn");
}

/// Zooms the map by `factor` around its centre (a pinch, or ctrl+scroll).
fn zoom(harness: &mut egui_kittest::Harness<'static, tuneatlas::app::TuneAtlasApp>, factor: f32) {
    let area = figures(harness).area.expect("the map is drawn");
    harness.event(Event::PointerMoved(area.center()));
    harness.event(Event::Zoom(factor));
    harness.run_steps(3);
}

#[test]
fn the_map_fits_the_space_it_has_whenever_it_changes_until_the_user_zooms() {
    let dir = scratch("map_fit");
    let db = small_library(&dir);
    let mut harness = harness(db);
    settle(&mut harness);
    harness.get_by_label("Map").click();
    settle(&mut harness);
    let with_panel = figures(&harness);
    assert!(with_panel.fitted);
    assert_all_visible(&with_panel, "track panel open");
    // Closing the track panel gives the map more room: it grows into it.
    harness.get_by_label("Track panel").click();
    settle(&mut harness);
    let without_panel = figures(&harness);
    assert_all_visible(&without_panel, "track panel closed");
    let width = |f: &MapFigures| f.area.expect("drawn").width();
    assert!(width(&without_panel) > width(&with_panel) + 100.0, "{without_panel:?}");
    // A smaller window, then the panel again: still every point.
    harness.set_size(Vec2::new(800.0, 560.0));
    settle(&mut harness);
    assert_all_visible(&figures(&harness), "smaller window");
    harness.get_by_label("Track panel").click();
    settle(&mut harness);
    assert_all_visible(&figures(&harness), "smaller window, track panel open");

    // The user zooms in: the view is theirs, a resize keeps it.
    zoom(&mut harness, 6.0);
    let zoomed = figures(&harness);
    assert!(!zoomed.fitted, "{zoomed:?}");
    assert!(zoomed.points_in_view < 24, "a 6× zoom leaves points out: {zoomed:?}");
    harness.get_by_label("Track panel").click();
    settle(&mut harness);
    assert!(!figures(&harness).fitted, "a resize after a zoom does not re-fit");
    // Wherever the legend now is, it sits where it covers the fewest points.
    // Fit hands the view back.
    harness.get_by_label("Fit").click();
    settle(&mut harness);
    let refitted = figures(&harness);
    assert!(refitted.fitted);
    assert_all_visible(&refitted, "after Fit");
}

/// One region of the stored layout carries the user's tag "rumbling" on
/// every track, so it is named whatever the model hears in the demo tones
/// and however t-SNE happened to place them (the layout is computed first
/// and stored; the window draws that stored layout, and the test tags the
/// smallest of the core's own regions of it, `map::regions`). What is
/// asserted: the window shows exactly the core's labels for the same layout
/// and tags, "rumbling" among them, drawn clear of each other and of the
/// legend, at one size at every zoom, and they can be hidden.
#[test]
fn the_map_names_its_regions_with_the_cores_labels_at_one_size_and_they_can_be_hidden() {
    let dir = scratch("map_labels");
    let db = small_library(&dir);
    let version = LibrarySnapshot::load(&db, None).unwrap().model_version.unwrap();
    let layout = |db: &std::path::Path| {
        let map =
            layout_for_library(db, &version, &LayoutParams::default(), false, &CancelToken::new(), |_| {})
                .unwrap();
        map.layout.points().iter().map(|c| (c.track_id, [c.x, c.y])).collect::<Vec<(i64, [f32; 2])>>()
    };
    let points = layout(&db);
    let positions: Vec<[f32; 2]> = points.iter().map(|(_, p)| *p).collect();
    let smallest = regions(&positions)
        .into_iter()
        .filter(|r| r.len() >= MIN_REGION_TRACKS)
        .min_by_key(Vec::len)
        .expect("24 points make regions");
    // Every track of the region carries the tag (share 1): its lift is
    // 24 / n, a name whenever the region is at most 19 of the 24 tracks, and
    // the region's first (a predicted score is never 0 elsewhere, so no
    // predicted tag's lift reaches 24 / n).
    assert!(smallest.len() <= 19, "one region holds nearly the whole map: {points:?}");
    let tagged: Vec<i64> = smallest.iter().map(|&i| points[i].0).collect();
    Store::open(&db).unwrap().add_user_tags(&tagged, "register", &["rumbling"], TagSource::User).unwrap();

    let mut harness = harness(db.clone());
    settle(&mut harness);
    harness.get_by_label("Map").click();
    settle(&mut harness);
    harness.get_by_label("Labels");
    let shown = figures(&harness);

    // The core's labels for the same (stored) layout and tags, computed directly.
    let snapshot = LibrarySnapshot::load(&db, None).unwrap();
    assert_eq!(layout(&db), points, "the window kept the stored layout");
    let core: Vec<String> =
        region_labels(&points, &snapshot.tags, &snapshot.user_tags).iter().map(|l| l.text()).collect();
    assert_eq!(shown.labels, core);
    assert!(core.iter().any(|l| l.contains("rumbling")), "the tagged region is named: {core:?}");

    // Drawn: inside the map, clear of the legend and of each other.
    assert!(!shown.labels_shown.is_empty(), "{shown:?}");
    let area = shown.area.unwrap();
    let legend = shown.legend.unwrap();
    for (i, a) in shown.label_rects.iter().enumerate() {
        assert!(area.contains_rect(*a), "{a:?} outside {area:?}");
        assert!(!a.intersects(legend), "{a:?} under the legend {legend:?}");
        for b in &shown.label_rects[i + 1..] {
            assert!(!a.intersects(*b), "labels overlap: {a:?} {b:?}");
        }
    }
    // Not just recorded: the plates are painted. A plate is the window's
    // fill, which the map's background is not.
    let image = harness.render().unwrap();
    let ppp = harness.ctx.pixels_per_point();
    let plate = shown.label_rects[0];
    let inside = Pos2::new(plate.left() + 2.0, plate.center().y);
    let pixel = |p: Pos2| image.get_pixel((p.x * ppp) as u32, (p.y * ppp) as u32).0;
    let outside = Pos2::new(area.left() + 6.0, area.bottom() - 6.0);
    assert_ne!(pixel(inside), pixel(outside), "no plate at {plate:?}");

    // One size at every zoom: zooming out (every region stays in view, the
    // largest one's label is drawn) or in leaves the plates' height alone.
    let height = plate.height();
    let same_height = |rects: &[Rect]| rects.iter().all(|r| (r.height() - height).abs() < 0.01);
    zoom(&mut harness, 0.6);
    let out = figures(&harness);
    assert!(!out.fitted);
    assert!(!out.label_rects.is_empty() && same_height(&out.label_rects), "{out:?}");
    assert_ne!(out.label_rects[0], plate, "the label moved with its region");
    zoom(&mut harness, 5.0);
    assert!(same_height(&figures(&harness).label_rects));

    // Hidden with one click; the labels stay computed for the next.
    harness.get_by_label("Fit").click();
    harness.run_steps(3);
    assert_eq!(figures(&harness).labels_shown, shown.labels_shown);
    harness.get_by_label("Labels").click();
    harness.run_steps(3);
    let hidden = figures(&harness);
    assert!(hidden.labels_shown.is_empty(), "{hidden:?}");
    assert_eq!(hidden.labels, core);
    harness.get_by_label("Labels").click();
    harness.run_steps(3);
    assert_eq!(figures(&harness).labels_shown, shown.labels_shown);
}

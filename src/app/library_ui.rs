//! The library table: every track with its top predicted genre and mood and
//! the user's tags, filterable (text matches names, path and tags) and
//! sortable, with multi-selection (ctrl/shift-click) for playing and tagging.
//!
//! Built to stay smooth at 100k tracks: only the visible rows are laid out
//! (`ScrollArea::show_rows`), each row is painted directly rather than built
//! from widgets, and the filter and sort produce index vectors that are
//! recomputed only when the filter text, the sort or the data change — never
//! per frame.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::store::TrackRow;
use egui::{Align2, Color32, Rect, Sense, TextStyle, TextWrapMode, Ui, WidgetText, pos2, vec2};

use super::format::clock;

/// The table's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Title,
    Artist,
    Album,
    Duration,
    Genre,
    Mood,
    UserTags,
}

/// How wide a column is: a share of the free width, or fixed points.
#[derive(Debug, Clone, Copy)]
enum Width {
    Share(f32),
    Fixed(f32),
}

const COLUMNS: [(Column, &str, Width); 7] = [
    (Column::Title, "Title", Width::Share(0.3)),
    (Column::Artist, "Artist", Width::Share(0.2)),
    (Column::Album, "Album", Width::Share(0.2)),
    (Column::Duration, "Time", Width::Fixed(56.0)),
    (Column::Genre, "Genre", Width::Share(0.1)),
    (Column::Mood, "Mood", Width::Share(0.1)),
    (Column::UserTags, "Your tags", Width::Share(0.1)),
];

/// What a row shows besides the file's own names: the model's top genre and
/// mood and the user's tags (one line each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowExtras {
    /// Strongest predicted genre.
    pub genre: String,
    /// Strongest predicted mood.
    pub mood: String,
    /// The user's tags, comma-separated.
    pub user_tags: String,
}

/// What the table asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TableEvent {
    /// The (primary) selection changed to this track.
    Selected(i64),
    /// A row was double-clicked (or Enter pressed): play these tracks from
    /// the first.
    Play(Vec<i64>),
}

/// Space left between two columns' text.
const COLUMN_GAP: f32 = 8.0;

impl Column {
    fn right_aligned(self) -> bool {
        matches!(self, Column::Duration)
    }

    fn text(self, row: &TrackRow, extras: &RowExtras) -> String {
        match self {
            Column::Title => row.title.clone(),
            Column::Artist => row.artist.clone().unwrap_or_default(),
            Column::Album => row.album.clone().unwrap_or_default(),
            Column::Duration => clock(row.duration_s),
            Column::Genre => extras.genre.clone(),
            Column::Mood => extras.mood.clone(),
            Column::UserTags => extras.user_tags.clone(),
        }
    }

    fn compare(self, a: (&TrackRow, &RowExtras), b: (&TrackRow, &RowExtras)) -> Ordering {
        let ((a, ea), (b, eb)) = (a, b);
        fn text(s: &Option<String>) -> &str {
            s.as_deref().unwrap_or("")
        }
        match self {
            Column::Title => cmp_caseless(&a.title, &b.title),
            Column::Artist => cmp_caseless(text(&a.artist), text(&b.artist)),
            Column::Album => cmp_caseless(text(&a.album), text(&b.album)),
            Column::Duration => a.duration_s.total_cmp(&b.duration_s),
            Column::Genre => cmp_caseless(&ea.genre, &eb.genre),
            Column::Mood => cmp_caseless(&ea.mood, &eb.mood),
            Column::UserTags => cmp_caseless(&ea.user_tags, &eb.user_tags),
        }
    }
}

/// Case-insensitive comparison without allocating (sorting 100k titles
/// compares ~2M pairs).
fn cmp_caseless(a: &str, b: &str) -> Ordering {
    a.chars().flat_map(char::to_lowercase).cmp(b.chars().flat_map(char::to_lowercase))
}

/// The lowercase text the filter searches for one track: title, artist,
/// album, top genre and mood, user tags and path, separated so a match
/// cannot straddle two fields.
fn haystack(row: &TrackRow, extras: &RowExtras) -> String {
    let mut s = String::with_capacity(row.title.len() + row.path.as_os_str().len() + 64);
    s.push_str(&row.title);
    for part in [&row.artist, &row.album, &row.genre] {
        s.push('\u{1f}');
        s.push_str(part.as_deref().unwrap_or(""));
    }
    for part in [&extras.genre, &extras.mood, &extras.user_tags] {
        s.push('\u{1f}');
        s.push_str(part);
    }
    s.push('\u{1f}');
    s.push_str(&row.path.to_string_lossy());
    s.to_lowercase()
}

/// Positions (into `order`'s items) whose haystack contains `needle`
/// (already lowercase); everything when the needle is empty.
fn filter_indices(order: &[usize], haystacks: &[String], needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return order.to_vec();
    }
    order.iter().copied().filter(|&i| haystacks[i].contains(needle)).collect()
}

/// The library table's data and view state.
#[derive(Debug, Default)]
pub struct LibraryView {
    rows: Vec<TrackRow>,
    extras: Vec<RowExtras>,
    haystacks: Vec<String>,
    /// Row indices in display order (store order, or sorted).
    order: Vec<usize>,
    /// Row indices that pass the filter, in display order.
    visible: Vec<usize>,
    filter: String,
    applied_filter: String,
    sort: Option<(Column, bool)>,
    selected: Option<usize>,
    /// Rows selected together with `selected` (ctrl/shift-click).
    multi: BTreeSet<usize>,
    /// Scroll offset to apply next frame (keyboard navigation).
    scroll_to_offset: Option<f32>,
    /// First and last fully drawn visible positions, and the viewport height.
    last_view: (usize, usize, f32),
    /// Row to bring into view next frame (selected elsewhere).
    scroll_to_index: Option<usize>,
    /// Give the filter box the keyboard next frame.
    focus_filter: bool,
}

impl LibraryView {
    /// Replaces the data (after a load or an import), keeping the selection
    /// on the same track when it still exists.
    pub fn set_rows(&mut self, rows: Vec<TrackRow>, mut extras: Vec<RowExtras>) {
        let selected_id = self.selected_row().map(|r| r.id);
        let multi_ids = self.selected_ids();
        extras.resize(rows.len(), RowExtras::default());
        self.haystacks = rows.iter().zip(&extras).map(|(r, e)| haystack(r, e)).collect();
        self.rows = rows;
        self.extras = extras;
        self.selected = selected_id.and_then(|id| self.rows.iter().position(|r| r.id == id));
        self.multi =
            self.rows.iter().enumerate().filter(|(_, r)| multi_ids.contains(&r.id)).map(|(i, _)| i).collect();
        self.resort();
    }

    /// The selected track's id (the last one clicked).
    pub fn selected_id(&self) -> Option<i64> {
        self.selected_row().map(|r| r.id)
    }

    /// Every selected track's id, in display order.
    pub fn selected_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> =
            self.order.iter().filter(|i| self.multi.contains(i)).map(|&i| self.rows[i].id).collect();
        if ids.is_empty()
            && let Some(id) = self.selected_id()
        {
            ids.push(id);
        }
        ids
    }

    /// Selects one track (chosen elsewhere: the map, a similar list) and
    /// scrolls to it when it is visible.
    pub fn select_id(&mut self, track_id: Option<i64>) {
        self.multi.clear();
        self.selected = track_id.and_then(|id| self.rows.iter().position(|r| r.id == id));
        if let Some(index) = self.selected {
            self.multi.insert(index);
            self.scroll_to_index = Some(index);
        }
    }

    /// Selects several tracks (a lasso on the map), the first as primary.
    pub fn select_ids(&mut self, ids: &[i64]) {
        let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
        self.multi =
            self.rows.iter().enumerate().filter(|(_, r)| wanted.contains(&r.id)).map(|(i, _)| i).collect();
        self.selected = ids.first().and_then(|id| self.rows.iter().position(|r| r.id == *id));
    }

    /// The row of a track, for names in lists.
    pub fn row(&self, track_id: i64) -> Option<&TrackRow> {
        self.rows.iter().find(|r| r.id == track_id)
    }

    /// Ids of the rows that pass the filter, in display order ("play all").
    pub fn visible_ids(&self) -> Vec<i64> {
        self.visible.iter().map(|&i| self.rows[i].id).collect()
    }

    /// Moves the keyboard focus to the filter box ("/" shortcut).
    pub fn focus_filter(&mut self) {
        self.focus_filter = true;
    }

    /// True when the library has no tracks.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn selected_row(&self) -> Option<&TrackRow> {
        self.selected.and_then(|i| self.rows.get(i))
    }

    fn resort(&mut self) {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        if let Some((column, ascending)) = self.sort {
            let (rows, extras) = (&self.rows, &self.extras);
            order.sort_by(|&a, &b| {
                let o = column.compare((&rows[a], &extras[a]), (&rows[b], &extras[b]));
                if ascending { o } else { o.reverse() }
            });
        }
        self.order = order;
        self.refilter();
    }

    fn refilter(&mut self) {
        self.applied_filter = self.filter.clone();
        let needle = self.filter.trim().to_lowercase();
        self.visible = filter_indices(&self.order, &self.haystacks, &needle);
    }

    /// The filter box and the row count.
    pub fn filter_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label("Filter:");
            let response = ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("title, artist, album, tag or path   ( / )")
                    .desired_width(280.0),
            );
            if std::mem::take(&mut self.focus_filter) {
                response.request_focus();
            }
            let mut cleared = false;
            if !self.filter.is_empty() && ui.small_button("×").on_hover_text("Clear the filter").clicked() {
                self.filter.clear();
                cleared = true;
            }
            if response.changed() || cleared || self.filter != self.applied_filter {
                self.refilter();
                self.scroll_to_offset = Some(0.0);
            }
            let count = if self.visible.len() == self.rows.len() {
                format!("{} tracks", self.rows.len())
            } else {
                format!("{} of {} tracks", self.visible.len(), self.rows.len())
            };
            ui.weak(count);
        });
    }

    /// The table itself; fills the remaining space. Returns what the user
    /// asked for (selection changes, play).
    pub fn table(&mut self, ui: &mut Ui) -> Vec<TableEvent> {
        let mut events = Vec::new();
        let before = self.selected_id();
        let row_height = ui.text_style_height(&TextStyle::Body) + 6.0;
        let width = ui.available_width();
        self.header(ui, width, row_height);
        self.keyboard(ui, row_height, &mut events);
        if self.visible.is_empty() {
            ui.add_space(12.0);
            ui.weak("No track matches the filter.");
            return events;
        }
        if let Some(index) = self.scroll_to_index.take()
            && let Some(pos) = self.visible.iter().position(|&i| i == index)
        {
            let (first, last_full, viewport) = self.last_view;
            if pos < first || pos > last_full {
                self.scroll_to_offset = Some((pos as f32 * row_height - viewport / 2.0).max(0.0));
            }
        }
        let modifiers = ui.input(|i| i.modifiers);
        let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
        if let Some(offset) = self.scroll_to_offset.take() {
            area = area.vertical_scroll_offset(offset);
        }
        ui.scope(|ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            let output = area.show_rows(ui, row_height, self.visible.len(), |ui, range| {
                let mut first_full = None;
                let mut last_full = 0;
                let clip = ui.clip_rect();
                for pos in range {
                    let (rect, response) = ui.allocate_exact_size(vec2(width, row_height), Sense::click());
                    // Rows are painted, not built from labels: name them for
                    // screen readers (and GUI tests).
                    let title = &self.rows[self.visible[pos]].title;
                    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, title));
                    if rect.top() >= clip.top() && rect.bottom() <= clip.bottom() {
                        first_full.get_or_insert(pos);
                        last_full = pos;
                    }
                    if response.double_clicked() {
                        events.push(TableEvent::Play(
                            self.visible[pos..].iter().map(|&i| self.rows[i].id).collect(),
                        ));
                    } else if response.clicked() {
                        self.click(pos, modifiers);
                    }
                    self.paint_row(ui, rect, pos, &response);
                }
                (first_full.unwrap_or(0), last_full)
            });
            let (first, last) = output.inner;
            self.last_view = (first, last, output.inner_rect.height());
        });
        if self.selected_id() != before
            && let Some(id) = self.selected_id()
        {
            events.insert(0, TableEvent::Selected(id));
        }
        events
    }

    /// A click on the row at display position `pos`: select it alone, add
    /// or remove it (ctrl/cmd), or extend a range from the last click (shift).
    fn click(&mut self, pos: usize, modifiers: egui::Modifiers) {
        let index = self.visible[pos];
        if modifiers.shift
            && let Some(anchor) = self.selected.and_then(|s| self.visible.iter().position(|&i| i == s))
        {
            let (a, b) = if anchor <= pos { (anchor, pos) } else { (pos, anchor) };
            self.multi.extend(self.visible[a..=b].iter().copied());
        } else if modifiers.command {
            if !self.multi.insert(index) {
                self.multi.remove(&index);
            }
            if let Some(s) = self.selected {
                self.multi.insert(s);
            }
        } else {
            self.multi.clear();
            self.multi.insert(index);
        }
        self.selected = Some(index);
    }

    fn header(&mut self, ui: &mut Ui, width: f32, row_height: f32) {
        let (rect, _) = ui.allocate_exact_size(vec2(width, row_height), Sense::hover());
        let strong = ui.visuals().strong_text_color();
        for (i, cell) in column_rects(rect).into_iter().enumerate() {
            let (column, title, _) = COLUMNS[i];
            let response = ui.interact(cell, ui.make_persistent_id(("library_header", i)), Sense::click());
            let arrow = match self.sort {
                Some((c, true)) if c == column => " ▲",
                Some((c, false)) if c == column => " ▼",
                _ => "",
            };
            let color = if response.hovered() { ui.visuals().hyperlink_color } else { strong };
            paint_cell(ui, cell, &format!("{title}{arrow}"), color, column.right_aligned());
            if response.on_hover_text("Sort by this column (click again to reverse)").clicked() {
                self.sort = match self.sort {
                    Some((c, true)) if c == column => Some((column, false)),
                    Some((c, false)) if c == column => None,
                    _ => Some((column, true)),
                };
                self.resort();
                self.scroll_to_offset = Some(0.0);
            }
        }
        let y = rect.bottom() - 0.5;
        ui.painter().hline(rect.x_range(), y, ui.visuals().widgets.noninteractive.bg_stroke);
    }

    /// Up/Down/PageUp/PageDown/Home/End move the selection when no text
    /// field has the keyboard.
    fn keyboard(&mut self, ui: &Ui, row_height: f32, events: &mut Vec<TableEvent>) {
        if self.visible.is_empty() || ui.ctx().memory(|m| m.focused().is_some()) {
            return;
        }
        if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            let ids = self.selected_ids();
            if !ids.is_empty() {
                events.push(TableEvent::Play(ids));
            }
        }
        let page = ((self.last_view.2 / row_height) as isize - 1).max(1);
        let step: isize = ui.input(|i| {
            if i.key_pressed(egui::Key::ArrowDown) {
                1
            } else if i.key_pressed(egui::Key::ArrowUp) {
                -1
            } else if i.key_pressed(egui::Key::PageDown) {
                page
            } else if i.key_pressed(egui::Key::PageUp) {
                -page
            } else if i.key_pressed(egui::Key::Home) {
                isize::MIN / 2
            } else if i.key_pressed(egui::Key::End) {
                isize::MAX / 2
            } else {
                0
            }
        });
        if step == 0 {
            return;
        }
        let current = self.selected.and_then(|s| self.visible.iter().position(|&i| i == s));
        let last = self.visible.len() as isize - 1;
        let target = match current {
            Some(pos) => (pos as isize).saturating_add(step).clamp(0, last),
            None if step > 0 => 0,
            None => last,
        } as usize;
        self.selected = Some(self.visible[target]);
        self.multi.clear();
        self.multi.insert(self.visible[target]);
        let (first, last_full, viewport) = self.last_view;
        let spacing = 0.0; // rows are drawn with no item spacing
        if target < first {
            self.scroll_to_offset = Some(target as f32 * (row_height + spacing));
        } else if target > last_full {
            self.scroll_to_offset = Some(((target + 1) as f32 * (row_height + spacing) - viewport).max(0.0));
        }
    }

    fn paint_row(&self, ui: &Ui, rect: Rect, pos: usize, response: &egui::Response) {
        let index = self.visible[pos];
        let row = &self.rows[index];
        let visuals = ui.visuals();
        let selected = self.selected == Some(index) || self.multi.contains(&index);
        let fill = if selected {
            Some(visuals.selection.bg_fill)
        } else if response.hovered() {
            Some(visuals.widgets.hovered.weak_bg_fill)
        } else if pos % 2 == 1 {
            Some(visuals.faint_bg_color)
        } else {
            None
        };
        if let Some(fill) = fill {
            ui.painter().rect_filled(rect, 0.0, fill);
        }
        let color = if selected { visuals.selection.stroke.color } else { visuals.text_color() };
        for (i, cell) in column_rects(rect).into_iter().enumerate() {
            let column = COLUMNS[i].0;
            paint_cell(ui, cell, &column.text(row, &self.extras[index]), color, column.right_aligned());
        }
    }
}

/// Splits a row's rectangle into the columns' cells.
fn column_rects(rect: Rect) -> Vec<Rect> {
    let fixed: f32 = COLUMNS.iter().map(|(_, _, w)| if let Width::Fixed(px) = w { *px } else { 0.0 }).sum();
    let gaps = COLUMN_GAP * (COLUMNS.len() + 1) as f32;
    let free = (rect.width() - fixed - gaps).max(0.0);
    let mut x = rect.left() + COLUMN_GAP;
    COLUMNS
        .iter()
        .map(|(_, _, w)| {
            let cell_width = match w {
                Width::Share(share) => free * share,
                Width::Fixed(px) => *px,
            };
            let cell = Rect::from_min_max(pos2(x, rect.top()), pos2(x + cell_width, rect.bottom()));
            x += cell_width + COLUMN_GAP;
            cell
        })
        .collect()
}

/// Paints one cell's text on one line, cut with "…" when too long.
fn paint_cell(ui: &Ui, cell: Rect, text: &str, color: Color32, right_aligned: bool) {
    if text.is_empty() || cell.width() <= 0.0 {
        return;
    }
    let galley =
        WidgetText::from(text).into_galley(ui, Some(TextWrapMode::Truncate), cell.width(), TextStyle::Body);
    let (anchor, x) =
        if right_aligned { (Align2::RIGHT_CENTER, cell.right()) } else { (Align2::LEFT_CENTER, cell.left()) };
    let pos = anchor.anchor_size(pos2(x, cell.center().y), galley.size()).min;
    ui.painter().with_clip_rect(cell.intersect(ui.clip_rect())).galley(pos, galley, color);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn row(id: i64, title: &str, artist: Option<&str>, path: &str) -> TrackRow {
        TrackRow {
            id,
            path: PathBuf::from(path),
            title: title.to_owned(),
            artist: artist.map(str::to_owned),
            album: None,
            album_artist: None,
            track_number: None,
            disc_number: None,
            year: None,
            genre: None,
            duration_s: 61.0,
            container: "ogg".to_owned(),
            codec: "vorbis".to_owned(),
            sample_rate_hz: 44_100,
            channels: 2,
            status: "ok".to_owned(),
            n_clips: 3,
            names_from_path: false,
            fingerprint: Vec::new(),
        }
    }

    #[test]
    fn filter_is_case_insensitive_over_title_artist_and_path() {
        let mut view = LibraryView::default();
        view.set_rows(
            vec![
                row(1, "Battle Theme", Some("Kevin"), "/m/a.ogg"),
                row(2, "Calm", Some("Ambient Folk"), "/m/b.ogg"),
                row(3, "Other", None, "/m/Battle/c.ogg"),
            ],
            vec![
                RowExtras::default(),
                RowExtras::default(),
                RowExtras { genre: "rock".into(), mood: "dark".into(), user_tags: "road trip".into() },
            ],
        );
        view.filter = "BATTLE".to_owned();
        view.refilter();
        assert_eq!(view.visible, vec![0, 2]);
        view.filter = "folk".to_owned();
        view.refilter();
        assert_eq!(view.visible, vec![1]);
        view.filter = "road trip".to_owned();
        view.refilter();
        assert_eq!(view.visible, vec![2], "user tags are searched");
        view.filter = "rock".to_owned();
        view.refilter();
        assert_eq!(view.visible, vec![2], "predicted tags are searched");
        view.filter = "  ".to_owned();
        view.refilter();
        assert_eq!(view.visible.len(), 3);
    }

    #[test]
    fn separator_keeps_matches_inside_one_field() {
        let hay = haystack(&row(1, "ab", Some("cd"), "/x"), &RowExtras::default());
        assert!(!hay.contains("bc"));
        assert!(hay.contains("ab") && hay.contains("cd"));
    }

    #[test]
    fn sort_then_filter_and_selection_survives_reload() {
        let mut view = LibraryView::default();
        view.set_rows(
            vec![row(1, "b", None, "/1"), row(2, "A", None, "/2"), row(3, "c", None, "/3")],
            Vec::new(),
        );
        view.sort = Some((Column::Title, true));
        view.resort();
        assert_eq!(view.visible, vec![1, 0, 2]);
        view.sort = Some((Column::Title, false));
        view.resort();
        assert_eq!(view.visible, vec![2, 0, 1]);
        view.selected = Some(0); // id 1
        view.set_rows(vec![row(3, "c", None, "/3"), row(1, "b", None, "/1")], Vec::new());
        assert_eq!(view.selected_row().map(|r| r.id), Some(1));
    }

    #[test]
    fn ctrl_and_shift_clicks_build_a_multi_selection() {
        let mut view = LibraryView::default();
        view.set_rows((1..=5).map(|i| row(i, &format!("t{i}"), None, "/x")).collect(), Vec::new());
        view.click(1, egui::Modifiers::NONE);
        view.click(3, egui::Modifiers::SHIFT);
        assert_eq!(view.selected_ids(), vec![2, 3, 4]);
        view.click(0, egui::Modifiers::COMMAND);
        assert_eq!(view.selected_ids(), vec![1, 2, 3, 4]);
        view.click(2, egui::Modifiers::COMMAND);
        assert_eq!(view.selected_ids(), vec![1, 2, 4]);
        view.click(4, egui::Modifiers::NONE);
        assert_eq!(view.selected_ids(), vec![5]);
        view.select_ids(&[3, 1]);
        assert_eq!(view.selected_ids(), vec![1, 3]);
        assert_eq!(view.selected_id(), Some(3));
    }

    #[test]
    fn columns_fill_the_row() {
        let rect = Rect::from_min_size(pos2(0.0, 0.0), vec2(1000.0, 20.0));
        let cells = column_rects(rect);
        assert_eq!(cells.len(), COLUMNS.len());
        let last = cells[cells.len() - 1];
        assert!((last.right() + COLUMN_GAP - 1000.0).abs() < 0.01);
    }
}

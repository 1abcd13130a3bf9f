//! The "Errors" window: files that could not be imported, with the reason,
//! so a user can see at a glance why a track is not in the library (and fix
//! or convert the file) without going to the command line.

use crate::store::FileErrorRow;
use egui::{Sense, TextStyle, TextWrapMode, WidgetText, vec2};

/// Whether the window is open; the rows come from the loaded library.
#[derive(Debug, Default)]
pub struct ErrorsWindow {
    /// Shown when true; the window's close button clears it.
    pub open: bool,
}

impl ErrorsWindow {
    /// The button that opens the window, labelled with the count.
    pub fn button(&mut self, ui: &mut egui::Ui, n_errors: usize) {
        let text = format!("Errors ({n_errors})");
        let text = if n_errors > 0 {
            egui::RichText::new(text).color(ui.visuals().warn_fg_color)
        } else {
            egui::RichText::new(text)
        };
        if ui
            .add_enabled(n_errors > 0, egui::Button::new(text).selected(self.open))
            .on_hover_text("Files that could not be imported, with reasons")
            .clicked()
        {
            self.open = !self.open;
        }
    }

    /// Draws the window when open. Rows are virtualised: a library with
    /// thousands of broken files stays responsive.
    pub fn show(&mut self, ctx: &egui::Context, errors: &[FileErrorRow]) {
        if !self.open {
            return;
        }
        egui::Window::new(format!("Errors ({})", errors.len()))
            .id(egui::Id::unique("tuneatlas_errors_window"))
            .open(&mut self.open)
            .default_size([720.0, 360.0])
            .resizable(true)
            .show(ctx, |ui| {
                ui.weak("These files were not imported. A file is retried when it changes on disk.");
                ui.separator();
                let line = ui.text_style_height(&TextStyle::Body);
                let row_height = 2.0 * line + 8.0;
                ui.spacing_mut().item_spacing.y = 0.0;
                egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(
                    ui,
                    row_height,
                    errors.len(),
                    |ui, range| {
                        for i in range {
                            paint_error(ui, &errors[i], row_height, line, i % 2 == 1);
                        }
                    },
                );
            });
    }
}

/// One failure on two lines: the reason, then the path (both cut with "…"
/// when too long; the full text is in the tooltip).
fn paint_error(ui: &mut egui::Ui, error: &FileErrorRow, row_height: f32, line: f32, striped: bool) {
    let width = ui.available_width();
    let (rect, response) = ui.allocate_exact_size(vec2(width, row_height), Sense::hover());
    let visuals = ui.visuals();
    if striped {
        ui.painter().rect_filled(rect, 0.0, visuals.faint_bg_color);
    }
    let text_width = (width - 12.0).max(0.0);
    let path = error.path.display().to_string();
    let reason = WidgetText::from(egui::RichText::new(&error.reason).color(visuals.warn_fg_color))
        .into_galley(ui, Some(TextWrapMode::Truncate), text_width, TextStyle::Body);
    let path_galley = WidgetText::from(egui::RichText::new(&path).monospace().weak()).into_galley(
        ui,
        Some(TextWrapMode::Truncate),
        text_width,
        TextStyle::Monospace,
    );
    let text_color = visuals.text_color();
    let painter = ui.painter().with_clip_rect(rect.intersect(ui.clip_rect()));
    painter.galley(rect.left_top() + vec2(6.0, 4.0), reason, text_color);
    painter.galley(rect.left_top() + vec2(6.0, 4.0 + line), path_galley, text_color);
    response.on_hover_text(format!("{}\n{path}", error.reason));
}

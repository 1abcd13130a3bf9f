//! The window's self-reports for tests and benchmarks: the cold-start
//! timings (`--startup-report`) and the screenshot (`--screenshot`).

use super::*;

/// Start-up timings and the one screenshot (`--startup-report`,
/// `--screenshot`).
pub(super) struct Capture {
    pub(super) screenshot: Option<PathBuf>,
    pub(super) screenshot_rx: Option<crossbeam_channel::Receiver<Arc<egui::ColorImage>>>,
    pub(super) frames_ready: u32,
    pub(super) startup: StartupClock,
}

/// Cold-start timings (`--startup-report`).
#[derive(Debug)]
pub(super) struct StartupClock {
    pub(super) started_at: Instant,
    pub(super) report: bool,
    pub(super) first_frame_ms: Option<f64>,
    pub(super) library_ms: Option<f64>,
    pub(super) embedding_ms: Option<f64>,
    pub(super) map_ms: Option<f64>,
}

impl StartupClock {
    pub(super) fn mark(&self, slot: Option<f64>) -> Option<f64> {
        slot.or_else(|| Some(self.started_at.elapsed().as_secs_f64() * 1e3))
    }
}

impl TuneAtlasApp {
    /// Prints the cold-start timings once everything is on screen, then
    /// closes (`--startup-report`).
    pub(super) fn startup_step(&mut self, ctx: &egui::Context) {
        if !self.capture.startup.report || !self.is_settled() {
            return;
        }
        let ms = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"));
        println!(
            "startup: first frame {}, library ({} tracks) {}, tags and vectors {}, map {}",
            ms(self.capture.startup.first_frame_ms),
            self.snapshot.tracks.len(),
            ms(self.capture.startup.library_ms),
            ms(self.capture.startup.embedding_ms),
            ms(self.capture.startup.map_ms)
        );
        self.capture.startup.report = false;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    /// Takes the screenshot asked for with `--screenshot` once the library
    /// and (when there is one) the map are on screen, then closes.
    pub(super) fn screenshot_step(&mut self, ui: &egui::Ui) {
        let Some(path) = self.capture.screenshot.clone() else { return };
        if !self.is_settled() {
            return;
        }
        self.capture.frames_ready += 1;
        ui.ctx().request_repaint();
        if self.capture.frames_ready == 5 {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let ctx = ui.ctx().clone();
            ui.ctx().request_screenshot(move |image| {
                let _ = tx.send(image);
                ctx.request_repaint();
            });
            self.capture.screenshot_rx = Some(rx);
        }
        let image = self.capture.screenshot_rx.as_ref().and_then(|rx| rx.try_recv().ok());
        if let Some(image) = image {
            if let Err(e) = save_png(&path, &image) {
                eprintln!("error: cannot save the screenshot: {e}: {}", path.display());
            } else {
                eprintln!("saved a screenshot to {}", path.display());
            }
            self.capture.screenshot = None;
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

/// Writes an egui screenshot as a PNG.
fn save_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes).ok_or("bad screenshot size")?;
    buffer.save(path).map_err(|e| e.to_string())
}

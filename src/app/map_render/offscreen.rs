//! The map renderer without a window: an offscreen target on its own wgpu
//! device, for `tuneatlas bench map` and for the tests that compare the
//! renderers pixel by pixel.

use std::sync::Arc;

use eframe::egui_wgpu::wgpu;

use super::{MapRenderer, PointCloud, PointsCallback, RendererKind, ViewTransform, texture_2d};

/// Figures of `tuneatlas bench map`: the point renderer alone, offscreen.
#[derive(Debug, Clone)]
pub struct MapDrawFigures {
    /// The adapter that drew ("llvmpipe (LLVM 15…) / Vulkan / Cpu").
    pub adapter: String,
    /// How the points were drawn.
    pub kind: RendererKind,
    /// Points per frame.
    pub n_points: usize,
    /// Frame size in pixels.
    pub size_px: [u32; 2],
    /// Milliseconds per frame while the view pans (uniform write + draw +
    /// wait for the GPU), sorted.
    pub frame_ms: Vec<f64>,
    /// Milliseconds per frame of a still view (what hovering costs), sorted.
    pub still_frame_ms: Vec<f64>,
    /// Milliseconds of the first frame, which also uploads the points.
    pub first_frame_ms: f64,
}

/// The map renderer drawing into an offscreen texture on its own wgpu
/// device: what the window draws, without a window — for `bench map` and
/// for tests that compare the two [`RendererKind`]s pixel by pixel.
pub struct OffscreenMap {
    device: wgpu::Device,
    queue: wgpu::Queue,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    renderer: MapRenderer,
    size_px: [u32; 2],
    adapter: String,
}

/// The offscreen target's format (no sRGB encoding: colours are written
/// as egui's usual swapchain gets them).
const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

impl OffscreenMap {
    /// Opens the default wgpu adapter and a `size_px` target; `kind` picks
    /// the renderer (`None`: as the window would for this adapter).
    pub fn new(size_px: [u32; 2], kind: Option<RendererKind>) -> Result<OffscreenMap, String> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter =
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
                .map_err(|e| format!("no wgpu adapter (install mesa-vulkan-drivers for lavapipe): {e}"))?;
        let info = adapter.get_info();
        let kind = kind.unwrap_or_else(|| RendererKind::for_adapter(&adapter));
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .map_err(|e| format!("cannot open the wgpu device: {e}"))?;
        let texture = texture_2d(
            &device,
            "offscreen map",
            size_px,
            OFFSCREEN_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let renderer = MapRenderer::new(&device, OFFSCREEN_FORMAT, kind);
        Ok(OffscreenMap {
            device,
            queue,
            texture,
            view,
            renderer,
            size_px,
            adapter: format!("{} / {:?} / {:?}", info.name, info.backend, info.device_type),
        })
    }

    /// How this target draws.
    pub fn kind(&self) -> RendererKind {
        self.renderer.kind()
    }

    /// The adapter, for reports.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// Draws one frame of `cloud` (uploaded when its generation is new) on
    /// black and waits for the GPU to finish it.
    pub fn draw(&mut self, cloud: &Arc<PointCloud>, view: ViewTransform) -> Result<(), String> {
        let callback = PointsCallback { map_id: 1, cloud: Arc::clone(cloud), view };
        let viewport = [self.size_px[0] as f32, self.size_px[1] as f32];
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("offscreen map") });
        self.renderer.prepare(&self.device, &self.queue, &callback, viewport);
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("offscreen map"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            let mut pass = pass.forget_lifetime();
            self.renderer.paint(&mut pass, 1);
        }
        self.queue.submit([encoder.finish()]);
        self.wait()
    }

    fn wait(&self) -> Result<(), String> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| format!("GPU wait failed: {e}"))
    }

    /// The last frame as tightly packed RGBA8 rows, top row first.
    pub fn read_rgba(&self) -> Result<Vec<u8>, String> {
        let [w, h] = self.size_px;
        let row_bytes = w * 4;
        let padded_row =
            row_bytes.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("offscreen map readback"),
            size: u64::from(padded_row) * u64::from(h),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        encoder.copy_texture_to_buffer(
            self.texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row),
                    rows_per_image: Some(h),
                },
            },
            wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        );
        self.queue.submit([encoder.finish()]);
        let slice = buffer.slice(..);
        let (tx, rx) = crossbeam_channel::bounded(1);
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| format!("readback lost: {e}"))?
            .map_err(|e| format!("cannot read the frame back: {e}"))?;
        let data = slice.get_mapped_range().map_err(|e| format!("cannot read the frame back: {e}"))?;
        let mut out = Vec::with_capacity((row_bytes * h) as usize);
        for row in data.chunks(padded_row as usize).take(h as usize) {
            out.extend_from_slice(&row[..row_bytes as usize]);
        }
        Ok(out)
    }
}

/// `n_points` points spread like a t-SNE map (40 clusters of Gaussian-ish
/// blobs in about [-0.85, 0.85]²), reproducible.
pub fn synthetic_cloud(n_points: usize) -> PointCloud {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut positions = Vec::with_capacity(n_points);
    let mut colors = Vec::with_capacity(n_points);
    for i in 0..n_points {
        let cluster = (i % 40) as f32;
        let (cx, cy) = ((cluster * 2.39).cos() * 0.7, (cluster * 2.39).sin() * 0.7);
        let spread = (next() + next() + next() - 1.5) * 0.15;
        let angle = next() * std::f32::consts::TAU;
        positions.push([cx + spread * angle.cos(), cy + spread * angle.sin()]);
        colors.push(egui::Color32::from_rgb((cluster * 37.0) as u8, (cluster * 91.0) as u8, 200));
    }
    PointCloud { generation: 1, positions, colors }
}

/// Draws `n_points` synthetic points of `radius_px` `frames` times, panned
/// a little each time, then `frames` times more with a still view, into an
/// offscreen `size_px` target with the map's renderer (`kind`, or the one
/// the window would pick), waiting for the GPU after each frame, so the
/// figures are the draw's own cost (what a 60 fps map needs under 16 ms)
/// without egui or a window around it.
pub fn bench_map_draw(
    n_points: usize,
    frames: usize,
    size_px: [u32; 2],
    radius_px: f32,
    kind: Option<RendererKind>,
) -> Result<MapDrawFigures, String> {
    let mut target = OffscreenMap::new(size_px, kind)?;
    let cloud = Arc::new(synthetic_cloud(n_points));
    let view = ViewTransform { scale: [0.9, -0.9], offset: [0.0, 0.0], radius_px };
    let t0 = std::time::Instant::now();
    target.draw(&cloud, view)?;
    let first_frame_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut frame_ms = Vec::with_capacity(frames);
    for k in 0..frames {
        // The view moves by a hair every frame, as while the user pans, so
        // each frame draws in full (the splat keeps a still view's grid).
        let view = ViewTransform { offset: [1e-4 * (k + 1) as f32, 0.0], ..view };
        let t = std::time::Instant::now();
        target.draw(&cloud, view)?;
        frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    frame_ms.sort_by(f64::total_cmp);
    let still = ViewTransform { offset: [1e-4 * (frames + 1) as f32, 0.0], ..view };
    let mut still_frame_ms = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = std::time::Instant::now();
        target.draw(&cloud, still)?;
        still_frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    still_frame_ms.sort_by(f64::total_cmp);
    Ok(MapDrawFigures {
        adapter: target.adapter().to_owned(),
        kind: target.kind(),
        n_points,
        size_px,
        frame_ms,
        still_frame_ms,
        first_frame_ms,
    })
}

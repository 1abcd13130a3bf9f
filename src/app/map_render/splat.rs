//! The splat renderer: an id grid that names, per pixel of the map, the
//! topmost point covering it, and one full-viewport triangle that shades
//! each pixel from its point (`shaders/map_splat.wgsl`).
//!
//! **Why the grid is filled on the CPU.** The splat exists for CPU adapters
//! (lavapipe), where the "GPU" is this machine's cores. Filled by a compute
//! shader, every covered pixel cost an `atomicMax` (so that the same point
//! wins an overlap every frame: no flicker), the discs' varying loop lengths
//! left most SIMD lanes idle, and running a compute pass at all cost a fixed
//! ~6 ms: 29 ms a frame at 100k points. Here plain stores in point order
//! give the same topmost point by construction (a later point overwrites an
//! earlier one), the rows are split into bands that threads fill side by
//! side (each band owned by one thread: still no atomics), and the grid goes
//! up with one buffer write. On a real GPU quads are drawn instead.
//!
//! The grid is kept between frames and filled again only when the points,
//! the view or the viewport change, so hovering a still map costs only the
//! shading triangle.

use std::num::NonZeroUsize;

use eframe::egui_wgpu::wgpu;

use super::{PointCloud, SPLAT_SHADER, ViewTransform, blended_target, layout_entry};

/// Most threads that fill one grid: past four, spawning costs more than the
/// rows save at a map's sizes.
const MAX_BANDS: usize = 4;

/// The splat renderer's pipeline: the shading triangle.
pub(super) struct SplatPipeline {
    pub(super) resolve: wgpu::RenderPipeline,
    resolve_layout: wgpu::BindGroupLayout,
}

impl SplatPipeline {
    pub(super) fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> SplatPipeline {
        use wgpu::BufferBindingType::{Storage, Uniform};
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tuneatlas map splat"),
            source: wgpu::ShaderSource::Wgsl(SPLAT_SHADER.into()),
        });
        let resolve_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tuneatlas map resolve"),
            entries: &[
                layout_entry(0, wgpu::ShaderStages::FRAGMENT, Uniform),
                layout_entry(1, wgpu::ShaderStages::FRAGMENT, Storage { read_only: true }),
                layout_entry(3, wgpu::ShaderStages::FRAGMENT, Storage { read_only: true }),
            ],
        });
        let resolve = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("tuneatlas map resolve"),
            layout: Some(&device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("tuneatlas map resolve"),
                bind_group_layouts: &[Some(&resolve_layout)],
                immediate_size: 0,
            })),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_full"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState { cull_mode: None, ..Default::default() },
            depth_stencil: None,
            multisample: wgpu::MultisampleState { count: 1, mask: !0, alpha_to_coverage_enabled: false },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_resolve"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(blended_target(target_format))],
            }),
            multiview_mask: None,
            cache: None,
        });
        SplatPipeline { resolve, resolve_layout }
    }
}

/// The splat renderer's per-map state: the grid on both sides and what it
/// was last filled for.
pub(super) struct SplatBuffers {
    /// Viewport size in pixels (the grid's width and height).
    pub(super) grid: [u32; 2],
    ids: wgpu::Buffer,
    pub(super) resolve: wgpu::BindGroup,
    /// The grid as last filled (point index + 1 per pixel, 0 = empty).
    host: Vec<u32>,
    /// The points' generation and the view the grid shows (`None`: never filled).
    filled_for: Option<(u64, [u32; 5])>,
}

impl SplatBuffers {
    /// The id grid for a `grid`-pixel viewport and the bind group over it.
    pub(super) fn new(
        device: &wgpu::Device,
        pipeline: &SplatPipeline,
        uniform: &wgpu::Buffer,
        instances: &wgpu::Buffer,
        grid: [u32; 2],
    ) -> SplatBuffers {
        let cells = grid[0] as usize * grid[1] as usize;
        let ids = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tuneatlas map ids"),
            size: (cells * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let resolve = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tuneatlas map resolve"),
            layout: &pipeline.resolve_layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: instances.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: ids.as_entire_binding() },
            ],
        });
        SplatBuffers { grid, ids, resolve, host: vec![0; cells], filled_for: None }
    }

    /// Fills the grid for `cloud` seen through `view` and uploads it, unless
    /// it already shows exactly that.
    pub(super) fn update(&mut self, queue: &wgpu::Queue, cloud: &PointCloud, view: &ViewTransform) {
        let key = (
            cloud.generation,
            [
                view.scale[0].to_bits(),
                view.scale[1].to_bits(),
                view.offset[0].to_bits(),
                view.offset[1].to_bits(),
                view.radius_px.to_bits(),
            ],
        );
        if self.filled_for == Some(key) {
            return;
        }
        fill_ids(cloud, view, self.grid, bands(), &mut self.host);
        queue.write_buffer(&self.ids, 0, bytemuck::cast_slice(&self.host));
        self.filled_for = Some(key);
    }
}

/// Threads to fill a grid with: the machine's cores, at most [`MAX_BANDS`].
fn bands() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get).clamp(1, MAX_BANDS)
}

/// A point's centre in grid pixels (y down), as `center_px` in
/// `shaders/map_splat.wgsl` computes it: the shading reads the same centre
/// for the antialiased edge.
fn center_px(p: [f32; 2], view: &ViewTransform, grid: [u32; 2]) -> [f32; 2] {
    let clip = [p[0] * view.scale[0] + view.offset[0], p[1] * view.scale[1] + view.offset[1]];
    [(clip[0] + 1.0) * 0.5 * grid[0] as f32, (1.0 - clip[1]) * 0.5 * grid[1] as f32]
}

/// Fills `ids` (`grid` pixels, row-major, resized to fit) with, per pixel,
/// 1 + the index of the last point of `cloud` whose disc covers it, 0 where
/// none does; fully transparent points cover nothing. The rows are split
/// into `bands` horizontal bands filled by as many threads; the result does
/// not depend on `bands`.
///
/// A pixel belongs to a disc when its centre lies within the radius plus
/// half a pixel (where the shading's antialiased coverage reaches zero),
/// visited row by row over the disc's own extent.
pub(super) fn fill_ids(
    cloud: &PointCloud,
    view: &ViewTransform,
    grid: [u32; 2],
    bands: usize,
    ids: &mut Vec<u32>,
) {
    let [w, h] = [grid[0] as usize, grid[1] as usize];
    ids.clear();
    ids.resize(w * h, 0);
    if w == 0 || h == 0 {
        return;
    }
    let reach = view.radius_px + 0.5;
    // Centres of the points that can show: visible, finite and near the grid.
    let centres: Vec<(u32, [f32; 2])> = cloud
        .positions
        .iter()
        .zip(&cloud.colors)
        .enumerate()
        .filter(|(_, (_, c))| c.a() > 0)
        .map(|(i, (p, _))| (i as u32 + 1, center_px(*p, view, grid)))
        .filter(|(_, c)| {
            c[0].is_finite()
                && c[1].is_finite()
                && c[0] + reach >= 0.0
                && c[1] + reach >= 0.0
                && c[0] - reach <= w as f32
                && c[1] - reach <= h as f32
        })
        .collect();
    let rows_per_band = h.div_ceil(bands.clamp(1, h));
    let fill_band = |first_row: usize, band: &mut [u32]| {
        let rows = band.len() / w;
        for &(id, [cx, cy]) in &centres {
            let y0 = ((cy - reach - 0.5).ceil() as i64).max(first_row as i64);
            let y1 = ((cy + reach - 0.5).floor() as i64).min((first_row + rows) as i64 - 1);
            for y in y0..=y1 {
                let dy = y as f32 + 0.5 - cy;
                let half = (reach * reach - dy * dy).max(0.0).sqrt();
                let x0 = ((cx - half - 0.5).ceil() as i64).max(0);
                let x1 = ((cx + half - 0.5).floor() as i64).min(w as i64 - 1);
                if x0 > x1 {
                    continue;
                }
                let row = (y as usize - first_row) * w;
                band[row + x0 as usize..=row + x1 as usize].fill(id);
            }
        }
    };
    std::thread::scope(|scope| {
        let mut chunks = ids.chunks_mut(rows_per_band * w).enumerate();
        // The first band on this thread, the others on their own.
        let first = chunks.next();
        for (k, band) in chunks {
            let fill_band = &fill_band;
            let spawned = std::thread::Builder::new()
                .name("tuneatlas-map-splat".into())
                .spawn_scoped(scope, move || fill_band(k * rows_per_band, band));
            if let Err(e) = spawned {
                // Cannot happen short of exhausted resources; the band then
                // stays empty for one frame rather than failing the paint.
                tracing::warn!("map splat thread: {e}");
            }
        }
        if let Some((_, band)) = first {
            fill_band(0, band);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(positions: Vec<[f32; 2]>) -> PointCloud {
        let colors = vec![egui::Color32::WHITE; positions.len()];
        PointCloud { generation: 1, positions, colors }
    }

    const VIEW: ViewTransform = ViewTransform { scale: [1.0, -1.0], offset: [0.0, 0.0], radius_px: 3.0 };

    #[test]
    fn a_disc_covers_its_pixels_and_the_later_point_lies_on_top() {
        // Two points 4 px apart on a 40 × 20 grid (1 px = 0.05 layout units in x).
        let grid = [40, 20];
        let c = cloud(vec![[0.0, 0.0], [0.2, 0.0]]);
        let mut ids = Vec::new();
        fill_ids(&c, &VIEW, grid, 1, &mut ids);
        let count = |id: u32| ids.iter().filter(|&&v| v == id).count();
        // The second disc whole: every pixel whose centre lies within the
        // radius + ½ px; the first keeps what the second leaves.
        let [cx, cy] = center_px([0.2, 0.0], &VIEW, grid);
        let inside = (0..20 * 40)
            .filter(|i| {
                let (x, y) = ((i % 40) as f32 + 0.5, (i / 40) as f32 + 0.5);
                (x - cx).powi(2) + (y - cy).powi(2) <= 3.5f32.powi(2)
            })
            .count();
        assert_eq!(count(2), inside);
        assert!(inside > 25, "{inside}");
        assert!(count(1) > 10 && count(1) < count(2), "{} {}", count(1), count(2));
        // The pixel between the two centres belongs to the later point.
        let centre = center_px([0.1, 0.0], &VIEW, grid);
        let at = centre[1] as usize * 40 + centre[0] as usize;
        assert_eq!(ids[at], 2);
    }

    #[test]
    fn the_grid_does_not_depend_on_how_many_threads_fill_it() {
        let positions: Vec<[f32; 2]> = (0..3000)
            .map(|i| [((i * 37) % 211) as f32 / 105.0 - 1.0, ((i * 53) % 197) as f32 / 98.0 - 1.0])
            .collect();
        let c = cloud(positions);
        let grid = [123, 77];
        let mut one = Vec::new();
        fill_ids(&c, &VIEW, grid, 1, &mut one);
        for bands in [2, 3, 4, 200] {
            let mut other = Vec::new();
            fill_ids(&c, &VIEW, grid, bands, &mut other);
            assert!(one == other, "{bands} bands differ from one");
        }
        assert!(one.contains(&3000), "the last point shows");
    }

    #[test]
    fn transparent_far_and_broken_points_cover_nothing() {
        let mut c = cloud(vec![[0.0, 0.0], [50.0, 0.0], [f32::NAN, 0.0], [0.5, 0.5]]);
        c.colors[0] = egui::Color32::TRANSPARENT;
        let mut ids = Vec::new();
        fill_ids(&c, &VIEW, [64, 64], 2, &mut ids);
        assert!(ids.iter().all(|&v| v == 0 || v == 4), "only the last point is drawn");
        assert!(ids.contains(&4));
        // An empty viewport is an empty grid, not a panic.
        fill_ids(&c, &VIEW, [0, 10], 2, &mut ids);
        assert!(ids.is_empty());
    }
}

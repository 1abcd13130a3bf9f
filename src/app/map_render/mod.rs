//! The map's point renderer, inside egui's own render pass through an egui
//! paint callback. Two ways to draw ([`RendererKind`]): every track as one
//! instanced quad (`shaders/map_points.wgsl`), or a **splat**: the CPU draws
//! the discs into an image of the map's viewport, which one full-viewport
//! triangle copies onto the screen (`shaders/map_splat.wgsl`). A GPU always
//! draws quads. A CPU adapter (lavapipe), where per-triangle work dominates
//! large maps, draws quads below [`SPLAT_MIN_POINTS`] points and splats
//! above (`splat.rs` says why the CPU), so a frame is one texture upload
//! and one triangle (measured with `tuneatlas bench map --renderer
//! quads|splat`).
//!
//! egui's painter could draw circles too, but it tessellates each one on the
//! CPU every frame (~100 vertices a circle): at 100k tracks that is ten
//! million vertices per frame. Here the points live in a GPU buffer that is
//! uploaded only when they change (new layout, new colours); a quad frame
//! costs one 48-byte uniform write and one draw call, whatever the zoom.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};

mod offscreen;
mod raster;
mod splat;

pub use offscreen::{MapDrawFigures, OffscreenMap, bench_map_draw, synthetic_cloud};
use splat::{SplatBuffers, SplatPipeline};

/// The WGSL source of the quad renderer, compiled into the binary.
const SHADER: &str = include_str!("../../../shaders/map_points.wgsl");

/// The WGSL source of the splat renderer's copying triangle.
pub(super) const SPLAT_SHADER: &str = include_str!("../../../shaders/map_splat.wgsl");

/// Bytes per point in the instance buffer: `vec2<f32>` position + packed RGBA8.
const POINT_STRIDE_BYTES: u64 = 12;

/// Bytes of the `View` uniform (`shaders/map_points.wgsl`): the transform,
/// viewport, radius and target flag.
const VIEW_BYTES_WRITTEN: u64 = 32;

/// On a CPU adapter, maps of at least this many points are splatted: on
/// lavapipe (2 cores, 1280 × 800, panning) quads take 1.2 / 2.3 / 8.6 ms per
/// frame at 1k / 3k / 10k points, the splat 3.1 / 3.6 / 4.7 ms (the lines
/// cross near 5k), and a still view's splat frame ~2.2 ms whatever the size.
pub const SPLAT_MIN_POINTS: u32 = 5_000;

/// How the points are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererKind {
    /// One instanced, antialiased quad per point: the fast way on a GPU.
    Quads,
    /// The discs drawn on the CPU into an image that one triangle copies:
    /// on a CPU rasteriser it avoids the per-triangle cost.
    Splat,
    /// Quads below [`SPLAT_MIN_POINTS`] points, splat from there on (per
    /// map): what a CPU adapter gets.
    BySize,
}

impl RendererKind {
    /// By size on a CPU adapter that can splat (storage buffers in fragment
    /// shaders: not wgpu's OpenGL fallback), quads everywhere else.
    pub fn for_adapter(adapter: &wgpu::Adapter) -> RendererKind {
        let cpu = adapter.get_info().device_type == wgpu::DeviceType::Cpu;
        let storage = adapter.limits().max_storage_buffers_per_shader_stage >= 2;
        if cpu && storage { RendererKind::BySize } else { RendererKind::Quads }
    }

    /// Whether a map of `n_points` is splatted.
    pub fn splats(self, n_points: u32) -> bool {
        match self {
            RendererKind::Quads => false,
            RendererKind::Splat => true,
            RendererKind::BySize => n_points >= SPLAT_MIN_POINTS,
        }
    }
}

/// The points of one map, as the GPU gets them. Shared (`Arc`) between the
/// UI, which rebuilds it when the layout or the colouring changes, and the
/// paint callback, which uploads it when its `generation` is new.
#[derive(Debug, Default)]
pub struct PointCloud {
    /// Bumped on every change; the renderer re-uploads when it differs.
    pub generation: u64,
    /// Positions in layout units.
    pub positions: Vec<[f32; 2]>,
    /// sRGB colours with straight alpha, one per position.
    pub colors: Vec<egui::Color32>,
}

impl PointCloud {
    /// The instance buffer's bytes (little-endian, as the shader reads them).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.positions.len() * POINT_STRIDE_BYTES as usize);
        for (p, c) in self.positions.iter().zip(&self.colors) {
            out.extend_from_slice(&p[0].to_le_bytes());
            out.extend_from_slice(&p[1].to_le_bytes());
            // Color32 is premultiplied in egui; the shader wants straight
            // alpha (it multiplies itself after antialiasing).
            out.extend_from_slice(&c.to_srgba_unmultiplied());
        }
        out
    }
}

/// Where the points go on screen: layout units → clip space of the map rect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    /// Clip-space units per layout unit, x and y (y flipped: layout y grows
    /// downwards like the screen, clip y upwards).
    pub scale: [f32; 2],
    /// Clip-space position of the layout origin.
    pub offset: [f32; 2],
    /// Point radius in physical pixels.
    pub radius_px: f32,
}

/// What the paint callback needs for one frame of one map.
pub struct PointsCallback {
    /// Tells maps apart (two maps can be shown side by side).
    pub map_id: u64,
    /// The points (uploaded when new).
    pub cloud: Arc<PointCloud>,
    /// The view of this frame.
    pub view: ViewTransform,
}

/// GPU state of one map.
struct MapBuffers {
    generation: u64,
    instances: Option<wgpu::Buffer>,
    count: u32,
    uniform: wgpu::Buffer,
    /// The quad renderer's bind group (the uniform).
    quad_bind_group: Option<wgpu::BindGroup>,
    /// The splat renderer's image and bind group, for the current viewport
    /// size.
    splat: Option<SplatBuffers>,
}

/// The quad renderer's pipeline.
struct QuadPipeline {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
}

/// The pipelines and the per-map buffers, kept in egui-wgpu's callback
/// resources (created once, when the window is created).
pub struct MapRenderer {
    kind: RendererKind,
    quads: QuadPipeline,
    /// Compiled unless `kind` is [`RendererKind::Quads`].
    splat: Option<SplatPipeline>,
    srgb_target: bool,
    maps: HashMap<u64, MapBuffers>,
}

/// A plain 2-D texture of `size_px` (one mip level, one sample): the
/// offscreen target and the splat's image.
pub(super) fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    size_px: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width: size_px[0], height: size_px[1], depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// egui blends premultiplied alpha.
const PREMULTIPLIED: wgpu::BlendComponent = wgpu::BlendComponent {
    src_factor: wgpu::BlendFactor::One,
    dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
    operation: wgpu::BlendOperation::Add,
};

/// The colour target both pipelines draw into: egui's surface, blended
/// with premultiplied alpha as egui itself blends.
pub(super) fn blended_target(format: wgpu::TextureFormat) -> wgpu::ColorTargetState {
    wgpu::ColorTargetState {
        format,
        blend: Some(wgpu::BlendState { color: PREMULTIPLIED, alpha: PREMULTIPLIED }),
        write_mask: wgpu::ColorWrites::ALL,
    }
}

impl QuadPipeline {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> QuadPipeline {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tuneatlas map points"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tuneatlas map view"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: NonZeroU64::new(VIEW_BYTES_WRITTEN),
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tuneatlas map points"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("tuneatlas map points"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: POINT_STRIDE_BYTES,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &wgpu::vertex_attr_array![0 => Float32x2, 1 => Uint32],
                })],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                cull_mode: None,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState { count: 1, mask: !0, alpha_to_coverage_enabled: false },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(blended_target(target_format))],
            }),
            multiview_mask: None,
            cache: None,
        });
        QuadPipeline { pipeline, bind_group_layout }
    }
}

impl MapRenderer {
    /// Compiles the shaders of `kind` for the window's surface format. Must
    /// match the render pass egui-wgpu opens: no depth buffer, one sample
    /// (eframe's defaults, which tuneatlas keeps).
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat, kind: RendererKind) -> MapRenderer {
        let quads = QuadPipeline::new(device, target_format);
        let splat = (kind != RendererKind::Quads).then(|| SplatPipeline::new(device, target_format));
        MapRenderer { kind, quads, splat, srgb_target: target_format.is_srgb(), maps: HashMap::new() }
    }

    /// Which way this renderer draws.
    pub fn kind(&self) -> RendererKind {
        self.kind
    }

    /// The splat pipeline, when a map of `n_points` is to be splatted.
    fn splat_for(&self, n_points: u32) -> Option<&SplatPipeline> {
        self.splat.as_ref().filter(|_| self.kind.splats(n_points))
    }

    /// Registers the renderer with the window's wgpu state, drawing the way
    /// that suits its adapter. Without wgpu (a test harness without a
    /// renderer) the map falls back to egui circles.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let kind = RendererKind::for_adapter(&render_state.adapter);
        tracing::debug!("map renderer: {kind:?} on {}", render_state.adapter.get_info().name);
        let renderer = MapRenderer::new(&render_state.device, render_state.target_format, kind);
        render_state.renderer.write().callback_resources.insert(renderer);
    }

    /// Uploads `cb`'s points if they are new and writes its view uniform;
    /// the splat renderer draws and uploads its image instead (either
    /// reaches the GPU before the render pass that [`MapRenderer::paint`]
    /// draws in).
    fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        cb: &PointsCallback,
        viewport_px: [f32; 2],
    ) {
        let map = self.maps.entry(cb.map_id).or_insert_with(|| {
            let uniform = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tuneatlas map view"),
                size: VIEW_BYTES_WRITTEN,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            MapBuffers {
                generation: u64::MAX,
                instances: None,
                count: 0,
                uniform,
                quad_bind_group: None,
                splat: None,
            }
        });
        if map.generation != cb.cloud.generation {
            let bytes = cb.cloud.to_bytes();
            map.count = (bytes.len() as u64 / POINT_STRIDE_BYTES) as u32;
            map.instances = (!bytes.is_empty()).then(|| {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tuneatlas map points"),
                    size: bytes.len() as u64,
                    usage: wgpu::BufferUsages::VERTEX
                        | wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                queue.write_buffer(&buffer, 0, &bytes);
                buffer
            });
            map.generation = cb.cloud.generation;
        }
        let grid = [viewport_px[0].round().max(1.0) as u32, viewport_px[1].round().max(1.0) as u32];
        let v = &cb.view;
        let floats = [
            v.scale[0],
            v.scale[1],
            v.offset[0],
            v.offset[1],
            viewport_px[0].max(1.0),
            viewport_px[1].max(1.0),
            v.radius_px,
            if self.srgb_target { 1.0 } else { 0.0 },
        ];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        queue.write_buffer(&map.uniform, 0, &bytes);
        // (not `splat_for`: `map` borrows `self.maps` mutably here)
        let splat = self.splat.as_ref().filter(|_| self.kind.splats(map.count));
        match splat {
            None => {
                if map.quad_bind_group.is_none() {
                    map.quad_bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("tuneatlas map view"),
                        layout: &self.quads.bind_group_layout,
                        entries: &[wgpu::BindGroupEntry {
                            binding: 0,
                            resource: map.uniform.as_entire_binding(),
                        }],
                    }));
                }
            }
            Some(splat) => {
                if map.splat.as_ref().is_none_or(|s| s.grid != grid) {
                    map.splat = Some(SplatBuffers::new(device, splat, grid));
                }
                if let Some(buffers) = &mut map.splat {
                    buffers.update(queue, &cb.cloud, &cb.view);
                }
            }
        }
    }

    /// Records the draw of one map into egui's render pass.
    fn paint(&self, render_pass: &mut wgpu::RenderPass<'static>, map_id: u64) {
        let Some(map) = self.maps.get(&map_id) else { return };
        let Some(instances) = &map.instances else { return };
        match self.splat_for(map.count) {
            None => {
                let Some(bind_group) = &map.quad_bind_group else { return };
                render_pass.set_pipeline(&self.quads.pipeline);
                render_pass.set_bind_group(0, bind_group, &[]);
                render_pass.set_vertex_buffer(0, instances.slice(..));
                render_pass.draw(0..4, 0..map.count);
            }
            Some(splat) => {
                let Some(buffers) = &map.splat else { return };
                render_pass.set_pipeline(&splat.copy);
                render_pass.set_bind_group(0, &buffers.bind_group, &[]);
                render_pass.draw(0..3, 0..1);
            }
        }
    }
}

/// The viewport size egui-wgpu will use for this callback, in physical
/// pixels: the callback rect (clipped by nothing — the viewport is the full
/// rect even where the clip rect cuts it).
fn viewport_px(rect: egui::Rect, pixels_per_point: f32) -> [f32; 2] {
    [rect.width() * pixels_per_point, rect.height() * pixels_per_point]
}

/// The paint callback: holds the rect so `prepare` (which egui-wgpu gives
/// no rect) knows the viewport size.
pub struct MapPaint {
    /// This frame's points and view.
    pub points: PointsCallback,
    /// The map's rect in points.
    pub rect: egui::Rect,
}

impl egui_wgpu::CallbackTrait for MapPaint {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(renderer) = resources.get_mut::<MapRenderer>() {
            let viewport = viewport_px(self.rect, screen.pixels_per_point);
            renderer.prepare(device, queue, &self.points, viewport);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(renderer) = resources.get::<MapRenderer>() {
            renderer.paint(render_pass, self.points.map_id);
        }
    }
}

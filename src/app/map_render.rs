//! The map's point renderer: every track is one instanced quad drawn by
//! `shaders/map_points.wgsl` inside egui's own render pass, through an egui
//! paint callback.
//!
//! egui's painter could draw circles too, but it tessellates each one on the
//! CPU every frame (~100 vertices a circle): at 100k tracks that is ten
//! million vertices per frame. Here the points live in a GPU buffer that is
//! uploaded only when they change (new layout, new colours); a frame costs
//! one 32-byte uniform write and one draw call, whatever the zoom.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};

/// The WGSL source, compiled into the binary.
const SHADER: &str = include_str!("../../shaders/map_points.wgsl");

/// Bytes per point in the instance buffer: `vec2<f32>` position + packed RGBA8.
const POINT_STRIDE_BYTES: u64 = 12;

/// Bytes of the `View` uniform (see the shader; padded to 16-byte multiples).
const VIEW_BYTES: u64 = 32;

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
    bind_group: wgpu::BindGroup,
}

/// The pipeline and the per-map buffers, kept in egui-wgpu's callback
/// resources (created once, when the window is created).
pub struct MapRenderer {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    srgb_target: bool,
    maps: HashMap<u64, MapBuffers>,
}

impl MapRenderer {
    /// Compiles the shader for the window's surface format. Must match the
    /// render pass egui-wgpu opens: no depth buffer, one sample (eframe's
    /// defaults, which tuneatlas keeps).
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> MapRenderer {
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
                    min_binding_size: NonZeroU64::new(VIEW_BYTES),
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tuneatlas map points"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let premultiplied = wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::One,
            dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
            operation: wgpu::BlendOperation::Add,
        };
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
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: Some(wgpu::BlendState { color: premultiplied, alpha: premultiplied }),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        MapRenderer {
            pipeline,
            bind_group_layout,
            srgb_target: target_format.is_srgb(),
            maps: HashMap::new(),
        }
    }

    /// Registers the renderer with the window's wgpu state. Without wgpu (a
    /// test harness without a renderer) the map falls back to egui circles.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let renderer = MapRenderer::new(&render_state.device, render_state.target_format);
        render_state.renderer.write().callback_resources.insert(renderer);
    }

    /// Uploads `cb`'s points if they are new and writes its view uniform.
    fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        cb: &PointsCallback,
        viewport_px: [f32; 2],
    ) {
        let layout = &self.bind_group_layout;
        let map = self.maps.entry(cb.map_id).or_insert_with(|| {
            let uniform = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tuneatlas map view"),
                size: VIEW_BYTES,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("tuneatlas map view"),
                layout,
                entries: &[wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }],
            });
            MapBuffers { generation: u64::MAX, instances: None, count: 0, uniform, bind_group }
        });
        if map.generation != cb.cloud.generation {
            let bytes = cb.cloud.to_bytes();
            map.count = (bytes.len() as u64 / POINT_STRIDE_BYTES) as u32;
            map.instances = (!bytes.is_empty()).then(|| {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tuneatlas map points"),
                    size: bytes.len() as u64,
                    usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                queue.write_buffer(&buffer, 0, &bytes);
                buffer
            });
            map.generation = cb.cloud.generation;
        }
        let v = &cb.view;
        let fields = [
            v.scale[0],
            v.scale[1],
            v.offset[0],
            v.offset[1],
            viewport_px[0].max(1.0),
            viewport_px[1].max(1.0),
            v.radius_px,
            if self.srgb_target { 1.0 } else { 0.0 },
        ];
        let bytes: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
        queue.write_buffer(&map.uniform, 0, &bytes);
    }

    /// Records the draw of one map into egui's render pass.
    fn paint(&self, render_pass: &mut wgpu::RenderPass<'static>, map_id: u64) {
        let Some(map) = self.maps.get(&map_id) else { return };
        let Some(instances) = &map.instances else { return };
        render_pass.set_pipeline(&self.pipeline);
        render_pass.set_bind_group(0, &map.bind_group, &[]);
        render_pass.set_vertex_buffer(0, instances.slice(..));
        render_pass.draw(0..4, 0..map.count);
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
            renderer.prepare(device, queue, &self.points, viewport_px(self.rect, screen.pixels_per_point));
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

/// Figures of `tuneatlas bench map`: the point renderer alone, offscreen.
#[derive(Debug, Clone)]
pub struct MapDrawFigures {
    /// The adapter that drew ("llvmpipe (LLVM 15…) / Vulkan / Cpu").
    pub adapter: String,
    /// Points per frame.
    pub n_points: usize,
    /// Frame size in pixels.
    pub size_px: [u32; 2],
    /// Milliseconds per frame (uniform write + draw + wait for the GPU), sorted.
    pub frame_ms: Vec<f64>,
    /// Milliseconds of the one-off upload of the point buffer.
    pub upload_ms: f64,
}

/// Draws `n_points` random points of `radius_px` `frames` times into an offscreen
/// `size_px` target with the map's pipeline, waiting for the GPU after each
/// frame, so the figure is the draw call's own cost (what a 60 fps map
/// needs under 16 ms) without egui or a window around it.
pub fn bench_map_draw(
    n_points: usize,
    frames: usize,
    size_px: [u32; 2],
    radius_px: f32,
) -> Result<MapDrawFigures, String> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .map_err(|e| format!("no wgpu adapter (install mesa-vulkan-drivers for lavapipe): {e}"))?;
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
        .map_err(|e| format!("cannot open the wgpu device: {e}"))?;
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let target = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("bench map target"),
        size: wgpu::Extent3d { width: size_px[0], height: size_px[1], depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    });
    let view = target.create_view(&wgpu::TextureViewDescriptor::default());
    let mut renderer = MapRenderer::new(&device, format);
    // Points spread like a t-SNE map: clusters of Gaussian-ish blobs.
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
    let cloud = Arc::new(PointCloud { generation: 1, positions, colors });
    let view_transform = ViewTransform { scale: [0.9, -0.9], offset: [0.0, 0.0], radius_px };
    let callback = PointsCallback { map_id: 1, cloud, view: view_transform };
    let viewport = [size_px[0] as f32, size_px[1] as f32];
    let wait = |device: &wgpu::Device| {
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| format!("GPU wait failed: {e}"))
    };
    let t0 = std::time::Instant::now();
    renderer.prepare(&device, &queue, &callback, viewport);
    queue.submit([]);
    wait(&device)?;
    let upload_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut frame_ms = Vec::with_capacity(frames);
    // One warm-up frame (pipeline compilation happens lazily on some drivers).
    for frame in 0..=frames {
        let t = std::time::Instant::now();
        renderer.prepare(&device, &queue, &callback, viewport);
        let mut encoder =
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bench map") });
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("bench map"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
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
            renderer.paint(&mut pass, 1);
        }
        queue.submit([encoder.finish()]);
        wait(&device)?;
        if frame > 0 {
            frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    frame_ms.sort_by(f64::total_cmp);
    Ok(MapDrawFigures {
        adapter: format!("{} / {:?} / {:?}", info.name, info.backend, info.device_type),
        n_points,
        size_px,
        frame_ms,
        upload_ms,
    })
}

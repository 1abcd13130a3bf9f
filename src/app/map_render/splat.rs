//! The splat renderer: the CPU draws every disc of the map into an image
//! the size of the map's viewport (`raster.rs`), and one full-viewport
//! triangle copies that image onto the screen (`shaders/map_splat.wgsl`).
//!
//! **Why the CPU.** The splat exists for CPU adapters (lavapipe), where the
//! "GPU" is this machine's cores. Filled by a compute shader, every covered
//! pixel cost an `atomicMax` (so that the same point wins an overlap every
//! frame: no flicker), the discs' varying loop lengths left most SIMD lanes
//! idle, and running a compute pass at all cost a fixed ~6 ms. On the CPU
//! the order is right by construction, the image is split into bands that
//! threads draw side by side (each band owned by one thread: no atomics),
//! and the image goes up with one texture write.
//!
//! **Why the shading is on the CPU too.** An id grid (each pixel's topmost
//! point, shaded by the fragment shader) cost lavapipe ~7 ms a frame in the
//! shading triangle alone, even with nothing to shade: a storage-buffer
//! lookup and the edge maths per pixel of the viewport. Copying a texture
//! costs ~2 ms, and the edge maths on the CPU runs only where discs are.
//! On a real GPU quads are drawn instead.
//!
//! The image is kept between frames and drawn again only when the points,
//! the view or the viewport change, so hovering a still map costs only the
//! copy.

use std::num::NonZeroUsize;

use eframe::egui_wgpu::wgpu;

use super::raster::{Encoding, Paint, Stamps, paints, shade};
use super::{PointCloud, SPLAT_SHADER, ViewTransform, blended_target, texture_2d};

/// Most threads that fill one image: past four, spawning costs more than
/// the rows save at a map's sizes.
const MAX_BANDS: usize = 4;

/// The splat renderer's pipeline: the copying triangle and its sampler.
pub(super) struct SplatPipeline {
    pub(super) copy: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    encoding: Encoding,
}

impl SplatPipeline {
    pub(super) fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> SplatPipeline {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tuneatlas map splat"),
            source: wgpu::ShaderSource::Wgsl(SPLAT_SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tuneatlas map splat"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let copy = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("tuneatlas map splat"),
            layout: Some(&device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("tuneatlas map splat"),
                bind_group_layouts: &[Some(&layout)],
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
                entry_point: Some("fs_copy"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(blended_target(target_format))],
            }),
            multiview_mask: None,
            cache: None,
        });
        // Texels and pixels coincide (the image is the viewport's size), so
        // nearest sampling copies them one to one.
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("tuneatlas map splat"),
            ..Default::default()
        });
        let encoding = if target_format.is_srgb() { Encoding::Srgb } else { Encoding::Gamma };
        SplatPipeline { copy, layout, sampler, encoding }
    }
}

/// The splat renderer's per-map state: the image on both sides and what it
/// was last drawn for.
pub(super) struct SplatBuffers {
    /// Viewport size in pixels (the image's width and height).
    pub(super) grid: [u32; 2],
    texture: wgpu::Texture,
    pub(super) bind_group: wgpu::BindGroup,
    encoding: Encoding,
    /// The image as last drawn (premultiplied RGBA8, row-major).
    host: Vec<[u8; 4]>,
    /// The discs' coverage at the last radius drawn.
    stamps: Option<Stamps>,
    /// The points' paints, and the generation of the points they are for.
    paints: (u64, Vec<Paint>),
    /// The points' generation and the view the image shows (`None`: never drawn).
    filled_for: Option<(u64, [u32; 5])>,
}

impl SplatBuffers {
    /// The image for a `grid`-pixel viewport and the bind group over it.
    pub(super) fn new(device: &wgpu::Device, pipeline: &SplatPipeline, grid: [u32; 2]) -> SplatBuffers {
        let format = match pipeline.encoding {
            Encoding::Gamma => wgpu::TextureFormat::Rgba8Unorm,
            Encoding::Srgb => wgpu::TextureFormat::Rgba8UnormSrgb,
        };
        let texture = texture_2d(
            device,
            "tuneatlas map splat",
            grid,
            format,
            wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tuneatlas map splat"),
            layout: &pipeline.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&view) },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&pipeline.sampler),
                },
            ],
        });
        let cells = grid[0] as usize * grid[1] as usize;
        SplatBuffers {
            grid,
            texture,
            bind_group,
            encoding: pipeline.encoding,
            host: vec![[0; 4]; cells],
            stamps: None,
            paints: (u64::MAX, Vec::new()),
            filled_for: None,
        }
    }

    /// Draws `cloud` seen through `view` into the image and uploads it,
    /// unless it already shows exactly that.
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
        if self.paints.0 != cloud.generation || self.paints.1.len() != cloud.colors.len() {
            self.paints = (cloud.generation, paints(cloud, self.encoding));
        }
        shade(
            &cloud.positions,
            &self.paints.1,
            view,
            self.grid,
            bands(),
            self.encoding,
            &mut self.stamps,
            &mut self.host,
        );
        queue.write_texture(
            self.texture.as_image_copy(),
            bytemuck::cast_slice(&self.host),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(self.grid[0] * 4),
                rows_per_image: None,
            },
            wgpu::Extent3d { width: self.grid[0], height: self.grid[1], depth_or_array_layers: 1 },
        );
        self.filled_for = Some(key);
    }
}

/// Threads to draw an image with: the machine's cores, at most [`MAX_BANDS`].
fn bands() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get).clamp(1, MAX_BANDS)
}

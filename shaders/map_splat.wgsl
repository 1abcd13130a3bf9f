// map_splat.wgsl — the library map's point renderer for CPU adapters
// (src/app/map_render/splat.rs, `RendererKind::Splat`).
//
// Why a second renderer: on a software rasteriser (Mesa's lavapipe) the
// instanced quads of map_points.wgsl cost about 1 µs per point (vertex
// processing and triangle setup), so 100k points take ~100 ms a frame.
// Here no triangles are drawn per point: the CPU marks every pixel with its
// topmost point in an id grid (index + 1, 0 = empty; splat.rs says why the
// CPU), and `vs_full` + `fs_resolve` draw one triangle over the map's
// viewport; each pixel looks up its point and shades it with the same
// antialiased edge as map_points.wgsl (against whatever lies below).
//
// Bindings (group 0):
//   binding(0): uniform View (map_common.wgsl, shared with the quad renderer)
//   binding(1): storage points, read: 3 words per point (x, y as f32 bits;
//               colour as RGBA8 packed little-endian, sRGB, straight alpha)
//   binding(3): storage ids, read: one word per pixel of the viewport, row-major

// struct View, its binding(0) and srgb_to_linear: map_common.wgsl, prepended by map_render.
@group(0) @binding(1) var<storage, read> points: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;

fn grid_size() -> vec2<f32> {
    return vec2<f32>(f32(view.grid_w), f32(view.grid_h));
}

// Centre of point i in grid pixels (y down); splat.rs's `center_px` is the same.
fn center_px(i: u32) -> vec2<f32> {
    let pos = vec2<f32>(bitcast<f32>(points[3u * i]), bitcast<f32>(points[3u * i + 1u]));
    let clip = pos * view.scale + view.offset;
    return vec2<f32>((clip.x + 1.0) * 0.5, (1.0 - clip.y) * 0.5) * grid_size();
}

struct FullOut {
    @builtin(position) position: vec4<f32>,
    // position in the viewport, [0, 1]², y down
    @location(0) uv: vec2<f32>,
};

// One triangle covering the whole viewport.
@vertex
fn vs_full(@builtin(vertex_index) vi: u32) -> FullOut {
    let xy = vec2<f32>(f32((vi << 1u) & 2u), f32(vi & 2u)) * 2.0 - 1.0;
    var out: FullOut;
    out.position = vec4<f32>(xy, 0.0, 1.0);
    out.uv = vec2<f32>((xy.x + 1.0) * 0.5, (1.0 - xy.y) * 0.5);
    return out;
}

@fragment
fn fs_resolve(in: FullOut) -> @location(0) vec4<f32> {
    let cell = min(vec2<u32>(floor(in.uv * grid_size())), vec2<u32>(view.grid_w - 1u, view.grid_h - 1u));
    let id = ids[cell.y * view.grid_w + cell.x];
    if id == 0u {
        discard;
    }
    let i = id - 1u;
    let d_px = length(vec2<f32>(cell) + 0.5 - center_px(i)) - view.radius_px;
    let coverage = clamp(0.5 - d_px, 0.0, 1.0);
    var color = unpack4x8unorm(points[3u * i + 2u]);
    let alpha = color.a * coverage;
    if alpha <= 0.0 {
        discard;
    }
    var rgb = color.rgb;
    if view.srgb_target > 0.5 {
        rgb = srgb_to_linear(rgb);
    }
    // egui blends premultiplied alpha
    return vec4<f32>(rgb * alpha, alpha);
}

// map_splat.wgsl — the library map's point renderer for CPU adapters
// (src/app/map_render.rs, `RendererKind::Splat`).
//
// Why a second renderer: on a software rasteriser (Mesa's lavapipe) the
// instanced quads of map_points.wgsl cost about 0.8 µs per point at the
// map's usual sizes, small or smaller (vertex processing and triangle setup
// run on one thread), so 100k points take 80–100 ms a frame. Here no triangles are drawn per point:
//   1. `splat` (compute, one invocation per point) marks every pixel its
//      disc covers with the point's index + 1, keeping the highest index
//      (atomicMax), so later points lie on top as with the quads;
//   2. `vs_full` + `fs_resolve` draw one triangle over the map's viewport;
//      each pixel looks up its point and shades it with the same
//      antialiased edge as map_points.wgsl (against whatever lies below).
//
// Bindings (group 0):
//   binding(0): uniform View (map_common.wgsl, shared with the quad renderer)
//   binding(1): storage points, read: 3 words per point (x, y as f32 bits;
//               colour as RGBA8 packed little-endian, sRGB, straight alpha)
//   binding(2): storage ids, read_write atomics (the compute pass)
//   binding(3): storage ids, read (the resolve pass)

// struct View, its binding(0) and srgb_to_linear: map_common.wgsl, prepended by map_render.rs.
@group(0) @binding(1) var<storage, read> points: array<u32>;
@group(0) @binding(2) var<storage, read_write> ids_rw: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;

const WORKGROUP: u32 = 64u;

fn grid_size() -> vec2<f32> {
    return vec2<f32>(f32(view.grid_w), f32(view.grid_h));
}

// Centre of point i in grid pixels (y down).
fn center_px(i: u32) -> vec2<f32> {
    let pos = vec2<f32>(bitcast<f32>(points[3u * i]), bitcast<f32>(points[3u * i + 1u]));
    let clip = pos * view.scale + view.offset;
    return vec2<f32>((clip.x + 1.0) * 0.5, (1.0 - clip.y) * 0.5) * grid_size();
}

@compute @workgroup_size(64)
fn splat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP;
    if i >= view.n_points {
        return;
    }
    if (points[3u * i + 2u] >> 24u) == 0u {
        // fully transparent: covers nothing
        return;
    }
    let c = center_px(i);
    // coverage reaches zero half a pixel outside the disc (see fs_resolve)
    let reach = view.radius_px + 0.5;
    // Row by row over the disc's own extent (not its bounding box): on a CPU
    // adapter the per-pixel iterations are the cost.
    let y0 = max(i32(ceil(c.y - reach - 0.5)), 0);
    let y1 = min(i32(floor(c.y + reach - 0.5)), i32(view.grid_h) - 1);
    for (var y = y0; y <= y1; y++) {
        let dy = f32(y) + 0.5 - c.y;
        let half = sqrt(max(reach * reach - dy * dy, 0.0));
        let x0 = max(i32(ceil(c.x - half - 0.5)), 0);
        let x1 = min(i32(floor(c.x + half - 0.5)), i32(view.grid_w) - 1);
        let row = u32(y) * view.grid_w;
        for (var x = x0; x <= x1; x++) {
            atomicMax(&ids_rw[row + u32(x)], i + 1u);
        }
    }
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

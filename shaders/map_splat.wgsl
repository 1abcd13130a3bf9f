// map_splat.wgsl — the library map's point renderer for CPU adapters
// (src/app/map_render/splat.rs, `RendererKind::Splat`).
//
// Why a second renderer: on a software rasteriser (Mesa's lavapipe) the
// instanced quads of map_points.wgsl cost about 1 µs per point (vertex
// processing and triangle setup), so 100k points take ~100 ms a frame.
// Here the CPU draws the discs itself — each covered pixel gets its topmost
// point's colour, antialiased and premultiplied exactly as map_points.wgsl
// would blend it (splat.rs says why the CPU) — into a texture the size of
// the map's viewport, and this shader only copies that texture onto the
// screen with one triangle. A plain texture copy is the cheapest fragment
// work a software rasteriser knows: no storage buffers, no per-pixel maths.
//
// Bindings (group 0):
//   binding(0): texture_2d<f32>, the shaded map (premultiplied alpha, in the
//               target's encoding: an sRGB target gets an sRGB texture)
//   binding(1): sampler, nearest (texels and pixels coincide)

@group(0) @binding(0) var shaded: texture_2d<f32>;
@group(0) @binding(1) var nearest: sampler;

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

// egui blends premultiplied alpha; the texture already holds what to blend.
@fragment
fn fs_copy(in: FullOut) -> @location(0) vec4<f32> {
    return textureSample(shaded, nearest, in.uv);
}

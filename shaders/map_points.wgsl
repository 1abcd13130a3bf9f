// map_points.wgsl — the library map's point renderer (src/app/map_render/mod.rs).
//
// One instanced quad per track: a 4-vertex triangle strip per instance, no vertex buffer for
// the corners (they come from vertex_index), one instance buffer of points.
// The render pass viewport is the map's rectangle (egui-wgpu sets it to the
// paint callback's rect), so clip space [-1, 1]² covers exactly the map.
//
// Bindings:
//   group(0) binding(0): uniform View
// Vertex inputs (instance step, 12 bytes per point):
//   location(0): vec2<f32>  map position in layout units ([-1, 1]² for a fresh layout)
//   location(1): u32        colour, RGBA8 packed little-endian (r in the low byte), sRGB, straight alpha

struct View {
    // layout → clip space: clip = pos * scale + offset
    scale: vec2<f32>,
    offset: vec2<f32>,
    // size of the viewport (the map rect) in physical pixels
    viewport_px: vec2<f32>,
    // point radius in physical pixels
    radius_px: f32,
    // 1.0 when the render target is an sRGB format (the GPU encodes, so we
    // must output linear colour); 0.0 when it stores what we write (egui's
    // usual non-sRGB swapchain, where colours are written gamma-encoded).
    srgb_target: f32,
};

@group(0) @binding(0) var<uniform> view: View;

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

struct VsOut {
    @builtin(position) position: vec4<f32>,
    // corner of the quad in units of the radius, in [-1, 1]² (plus a rim for antialiasing)
    @location(0) local: vec2<f32>,
    @location(1) color: vec4<f32>,
};

// A triangle strip covering [-1, 1]²: (-1,-1), (1,-1), (-1,1), (1,1).
fn corner(i: u32) -> vec2<f32> {
    return vec2<f32>(f32(i & 1u) * 2.0 - 1.0, f32(i >> 1u) * 2.0 - 1.0);
}

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @location(0) pos: vec2<f32>, @location(1) packed: u32) -> VsOut {
    // half a pixel of rim: the antialiased edge's coverage reaches zero
    // exactly half a pixel outside the disc (see fs_main)
    let rim = (view.radius_px + 0.5) / max(view.radius_px, 0.5);
    let c = corner(vi) * rim;
    let center = pos * view.scale + view.offset;
    // radius in clip units: 2 / viewport pixels per pixel; clip y points up
    let r = vec2<f32>(2.0 * view.radius_px / view.viewport_px.x, 2.0 * view.radius_px / view.viewport_px.y);
    var out: VsOut;
    out.position = vec4<f32>(center + c * r, 0.0, 1.0);
    out.local = c;
    // Colour conversion per vertex, not per fragment: the colour is the same
    // over the whole quad.
    var color = unpack4x8unorm(packed);
    if view.srgb_target > 0.5 {
        color = vec4<f32>(srgb_to_linear(color.rgb), color.a);
    }
    out.color = color;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    // distance from the centre in pixels, negative inside the disc
    let d_px = (length(in.local) - 1.0) * view.radius_px;
    let coverage = clamp(0.5 - d_px, 0.0, 1.0);
    let alpha = in.color.a * coverage;
    if alpha <= 0.0 {
        discard;
    }
    // egui blends premultiplied alpha
    return vec4<f32>(in.color.rgb * alpha, alpha);
}

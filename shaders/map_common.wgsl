// map_common.wgsl — what both point renderers (map_points.wgsl,
// map_splat.wgsl) share: the view uniform, written once per frame (48
// bytes), and the sRGB decoding. src/app/map_render/mod.rs prepends this file
// to each shader (WGSL has no includes).

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
    // number of points in the buffer (kept for the layout; unused by both shaders)
    n_points: u32,
    // size of the splat's id grid in pixels (the viewport, rounded)
    grid_w: u32,
    grid_h: u32,
    _pad: u32,
};

@group(0) @binding(0) var<uniform> view: View;

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

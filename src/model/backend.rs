//! Where the model runs: the ONE place that names concrete burn backends.
//!
//! burn 0.22 has no backend type parameter any more: every tensor lives on a
//! runtime [`Device`], and the backend is chosen by which constructor made the
//! device (`Device::wgpu_options()`, `Device::flex()`).
//! This module makes that choice once, by policy, and describes it to the
//! user; the rest of the crate only sees a [`ComputeDevice`].
//!
//! Policy ([`select_device`]):
//! - `auto`: a real GPU adapter (discrete, integrated or virtual) on a native
//!   API (Vulkan, Metal, DX12) runs wgpu. A CPU-type adapter (Mesa's
//!   lavapipe/llvmpipe) runs on the CPU backend instead, with a notice, and
//!   wgpu's OpenGL fallback is not even probed: measured on the 2-core
//!   build machine, lavapipe is several times slower than the CPU backend for
//!   this model and GL is slower still (ARCHITECTURE.md §8; `tuneatlas bench model`).
//!   No adapter at all: CPU backend with a notice.
//! - `gpu`: wgpu on whatever adapter exists, lavapipe and OpenGL included (this is how
//!   the tests exercise the wgpu path on machines without a GPU); an error
//!   saying what to install when there is none.
//! - `cpu`: the CPU backend.
//!
//! The CPU backend is burn-flex, burn's pure-Rust CPU backend, with rayon
//! threads and SIMD kernels ([`CpuBackend::DEFAULT`]): for this model it is
//! about twice as fast as burn-ndarray (`tuneatlas bench model`, figures in
//! `models/README.md`), and burn 0.22 deprecates ndarray in its favour, so
//! burn-ndarray is not built at all (one CPU backend less in a cold build).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuBackend, wgpu};

use crate::{Error, Result};

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A real GPU if there is one, else the CPU (with a notice).
    #[default]
    Auto,
    /// wgpu, even on a CPU adapter; an error if wgpu finds no adapter.
    Gpu,
    /// The CPU backend.
    Cpu,
}

impl DeviceChoice {
    /// The values `--device` accepts, for help texts.
    pub const VALUES: [&'static str; 3] = ["auto", "gpu", "cpu"];
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Cpu => "cpu",
        })
    }
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "gpu" | "wgpu" => Ok(DeviceChoice::Gpu),
            "cpu" => Ok(DeviceChoice::Cpu),
            _ => Err(format!("unknown device {s:?} (expected auto, gpu or cpu)")),
        }
    }
}

/// Which CPU backend runs the model when it runs on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuBackend {
    /// burn-flex, the pure-Rust CPU backend burn recommends from 0.22 on.
    Flex,
}

impl CpuBackend {
    /// The backend [`ComputeDevice::cpu`] uses. burn-ndarray, deprecated
    /// upstream in 0.22, was slower in `tuneatlas bench model` and is no longer
    /// built: it cost a second CPU backend in every cold build.
    pub const DEFAULT: CpuBackend = CpuBackend::Flex;

    /// Short name for messages and benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            CpuBackend::Flex => "flex",
        }
    }

    fn device(self) -> Device {
        match self {
            CpuBackend::Flex => Device::flex(),
        }
    }
}

/// What kind of hardware a [`ComputeDevice`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// wgpu on a graphics adapter.
    Wgpu {
        /// Adapter name as the driver reports it, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
        adapter: String,
        /// Graphics API, e.g. "Vulkan", "Metal", "Dx12", "Gl".
        api: String,
        /// The adapter is a software rasteriser on the CPU (lavapipe).
        cpu_adapter: bool,
    },
    /// A CPU backend.
    Cpu(CpuBackend),
}

/// A device the model can run on, with a description for the user.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// The burn device tensors and modules are created on.
    pub device: Device,
    /// What it is.
    pub kind: DeviceKind,
    /// One line for logs and the GUI, e.g. "wgpu: Vulkan, llvmpipe (CPU adapter)"
    /// or "CPU (flex, 2 threads)".
    pub description: String,
    /// Something the user should be told about how the device was chosen
    /// (a fallback, a slow adapter), or `None`.
    pub notice: Option<String>,
}

impl ComputeDevice {
    /// The default CPU backend.
    pub fn cpu() -> ComputeDevice {
        ComputeDevice::cpu_with(CpuBackend::DEFAULT)
    }

    /// A specific CPU backend (for benchmarks and comparisons).
    pub fn cpu_with(backend: CpuBackend) -> ComputeDevice {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        ComputeDevice {
            device: backend.device(),
            kind: DeviceKind::Cpu(backend),
            description: format!("CPU ({}, {threads} threads)", backend.name()),
            notice: None,
        }
    }

    /// Whether this is a wgpu device (GPU or CPU adapter).
    pub fn is_wgpu(&self) -> bool {
        matches!(self.kind, DeviceKind::Wgpu { .. })
    }

    fn with_notice(mut self, notice: String) -> ComputeDevice {
        self.notice = Some(notice);
        self
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// The wgpu runtime, initialised at most once per process: burn registers
/// one runtime per adapter selector and refuses a second initialisation, so
/// every caller shares this one.
struct WgpuRuntime {
    device: Device,
    adapter: String,
    api: wgpu::Backend,
    device_type: wgpu::DeviceType,
}

/// The runtime on the first native compute API (Vulkan, Metal, DX12) with an
/// adapter, initialised at most once per process.
static WGPU_NATIVE: OnceLock<std::result::Result<WgpuRuntime, String>> = OnceLock::new();
/// The OpenGL runtime, probed only when `--device gpu` finds no native API.
static WGPU_GL: OnceLock<std::result::Result<WgpuRuntime, String>> = OnceLock::new();

/// The native graphics APIs this platform can have, best first.
fn native_apis() -> &'static [WgpuBackend] {
    if cfg!(target_os = "macos") {
        &[WgpuBackend::Metal]
    } else if cfg!(windows) {
        &[WgpuBackend::Vulkan, WgpuBackend::Dx12]
    } else {
        &[WgpuBackend::Vulkan]
    }
}

/// The wgpu runtime the model may run on. `allow_gl`: fall back to OpenGL
/// when no native API has an adapter.
///
/// Why OpenGL is probed only on request: `auto` never runs the model on GL
/// (it is slower than the CPU, see the module documentation), and probing it
/// is not free — on Linux, EGL opens a Wayland connection just to look, which
/// prints `XDG_RUNTIME_DIR is invalid or not set` and a red EGL error on every
/// headless machine although nothing is wrong. Left to itself, burn's automatic
/// choice probes GL whenever Vulkan only offers a CPU adapter (lavapipe).
fn wgpu_runtime(allow_gl: bool) -> &'static std::result::Result<WgpuRuntime, String> {
    let native = WGPU_NATIVE.get_or_init(|| {
        let mut errors = Vec::new();
        for &api in native_apis() {
            match init_wgpu(api) {
                Ok(rt) => return Ok(rt),
                Err(e) => errors.push(format!("{api:?}: {e}")),
            }
        }
        Err(errors.join("; "))
    });
    if native.is_ok() || !allow_gl {
        return native;
    }
    let gl = WGPU_GL.get_or_init(|| init_wgpu(WgpuBackend::Gl));
    if gl.is_ok() { gl } else { native }
}

/// Initialises burn's wgpu runtime on `api`.
fn init_wgpu(api: WgpuBackend) -> std::result::Result<WgpuRuntime, String> {
    // Adapter discovery calls into drivers; a broken driver may panic in
    // wgpu rather than return an error. Either way: no wgpu.
    let attempt = std::panic::catch_unwind(|| Device::wgpu_options().graphics_api(api).init_with_setup());
    match attempt {
        Ok(Ok((device, setup))) => {
            let info = setup.adapter.get_info();
            tracing::info!(?info, "wgpu adapter");
            Ok(WgpuRuntime { device, adapter: info.name, api: info.backend, device_type: info.device_type })
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("wgpu panicked while looking for an adapter: {}", panic_text(&*panic))),
    }
}

/// The text of a caught panic payload.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn wgpu_compute_device(rt: &WgpuRuntime) -> ComputeDevice {
    let cpu_adapter = rt.device_type == wgpu::DeviceType::Cpu;
    let api = format!("{:?}", rt.api);
    let what = if cpu_adapter { " (CPU adapter)" } else { "" };
    ComputeDevice {
        device: rt.device.clone(),
        kind: DeviceKind::Wgpu { adapter: rt.adapter.clone(), api: api.clone(), cpu_adapter },
        description: format!("wgpu: {api}, {}{what}", rt.adapter),
        notice: None,
    }
}

const INSTALL_HINT: &str = "install a Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers \
     libvulkan1`; lavapipe provides a CPU Vulkan device where there is no GPU)";

/// Picks the device for `choice` (policy in the module documentation).
///
/// Never fails for `Auto` and `Cpu`; for `Gpu` fails with a message saying
/// what to install when wgpu finds no adapter. Read
/// [`ComputeDevice::notice`] and show it: it explains any fallback.
pub fn select_device(choice: DeviceChoice) -> Result<ComputeDevice> {
    match choice {
        DeviceChoice::Cpu => Ok(ComputeDevice::cpu()),
        DeviceChoice::Gpu => match wgpu_runtime(true) {
            Ok(rt) => {
                let dev = wgpu_compute_device(rt);
                Ok(match (&dev.kind, rt.api) {
                    (_, wgpu::Backend::Gl) => {
                        let n = format!(
                            "wgpu is using OpenGL on {}: compute there is very slow; {INSTALL_HINT}",
                            rt.adapter
                        );
                        dev.with_notice(n)
                    }
                    (DeviceKind::Wgpu { cpu_adapter: true, .. }, _) => {
                        let n = format!(
                            "the only wgpu adapter is a CPU one ({}): the model runs correctly but slower \
                             than with --device cpu",
                            rt.adapter
                        );
                        dev.with_notice(n)
                    }
                    _ => dev,
                })
            }
            Err(e) => Err(Error::Invalid(format!(
                "--device gpu: wgpu found no usable adapter ({e}); {INSTALL_HINT}"
            ))),
        },
        DeviceChoice::Auto => {
            let cpu = ComputeDevice::cpu();
            Ok(match wgpu_runtime(false) {
                Ok(rt) if rt.device_type == wgpu::DeviceType::Cpu => {
                    let n = format!(
                        "no GPU: the only wgpu adapter is a CPU one ({}), slower than the CPU backend: \
                         running on the {}; --device gpu forces wgpu",
                        rt.adapter, cpu.description
                    );
                    cpu.with_notice(n)
                }
                Ok(rt) => wgpu_compute_device(rt),
                Err(e) => {
                    let n = format!("no GPU adapter found ({e}): running on the {}", cpu.description);
                    cpu.with_notice(n)
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choice_parses_and_prints() {
        for v in DeviceChoice::VALUES {
            assert_eq!(v.parse::<DeviceChoice>().unwrap().to_string(), v);
        }
        assert_eq!("GPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Gpu);
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().contains("auto, gpu or cpu"));
    }

    #[test]
    fn cpu_choice_is_the_cpu_backend_without_notice() {
        let d = select_device(DeviceChoice::Cpu).unwrap();
        assert_eq!(d.kind, DeviceKind::Cpu(CpuBackend::DEFAULT));
        assert!(d.notice.is_none());
        assert!(d.description.starts_with("CPU ("));
    }
}

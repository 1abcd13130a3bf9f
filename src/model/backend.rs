//! Where the model runs: the ONE place that names concrete burn backends.
//!
//! burn 0.22 has no backend type parameter any more: every tensor lives on a
//! runtime [`Device`], and the backend is chosen by which constructor made the
//! device (`Device::wgpu_options()`, `Device::ndarray()`, `Device::flex()`).
//! This module makes that choice once, by policy, and describes it to the
//! user; the rest of the crate only sees a [`ComputeDevice`].
//!
//! Policy ([`select_device`]):
//! - `auto`: a real GPU adapter (discrete, integrated or virtual) runs wgpu.
//!   A CPU-type adapter (Mesa's lavapipe/llvmpipe) or wgpu's OpenGL fallback
//!   runs on the CPU backend instead, with a notice: measured on the 2-core
//!   build machine, lavapipe is several times slower than the CPU backend for
//!   this model and GL is slower still (DESIGN §8; `tuneatlas bench model`).
//!   No adapter at all: CPU backend with a notice.
//! - `gpu`: wgpu on whatever adapter exists, lavapipe included (this is how
//!   the tests exercise the wgpu path on machines without a GPU); an error
//!   saying what to install when there is none.
//! - `cpu`: the CPU backend.
//!
//! The CPU backend is burn-flex, burn's pure-Rust CPU backend, with rayon
//! threads and SIMD kernels ([`CpuBackend::DEFAULT`]): for this model it is
//! about twice as fast as burn-ndarray (`tuneatlas bench model`, figures in
//! `models/README.md`), and burn 0.22 deprecates ndarray in its favour.
//! burn-ndarray is still compiled, only so the benchmark can keep comparing
//! the two; nothing else uses it.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuSetup, wgpu};

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
    /// burn-ndarray (deprecated upstream in 0.22; benchmark comparison only).
    NdArray,
    /// burn-flex, the pure-Rust CPU backend burn recommends from 0.22 on.
    Flex,
}

impl CpuBackend {
    /// The backend [`ComputeDevice::cpu`] uses: the faster of the two in
    /// `tuneatlas bench model` on the build machine (see `models/README.md`).
    pub const DEFAULT: CpuBackend = CpuBackend::Flex;

    /// Short name for messages and benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            CpuBackend::NdArray => "ndarray",
            CpuBackend::Flex => "flex",
        }
    }

    #[allow(deprecated)] // burn-ndarray is deprecated in 0.22; kept for the benchmark comparison
    fn device(self) -> Device {
        match self {
            CpuBackend::NdArray => Device::ndarray(),
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
    setup: WgpuSetup,
    adapter: String,
    api: wgpu::Backend,
    device_type: wgpu::DeviceType,
}

static WGPU: OnceLock<std::result::Result<WgpuRuntime, String>> = OnceLock::new();

fn wgpu_runtime() -> &'static std::result::Result<WgpuRuntime, String> {
    WGPU.get_or_init(|| {
        // Adapter discovery calls into drivers; a broken driver may panic in
        // wgpu rather than return an error. Either way: no wgpu.
        let attempt = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
        match attempt {
            Ok(Ok((device, setup))) => {
                let info = setup.adapter.get_info();
                tracing::info!(?info, "wgpu adapter");
                Ok(WgpuRuntime {
                    device,
                    setup,
                    adapter: info.name,
                    api: info.backend,
                    device_type: info.device_type,
                })
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(format!("wgpu panicked while looking for an adapter: {}", panic_text(&*panic))),
        }
    })
}

/// The wgpu instance, adapter, device and queue the model runs on, for a
/// renderer that wants to share them (DESIGN §6: egui-wgpu 0.37 and burn 0.22
/// use the same wgpu 30, so `egui_wgpu::WgpuSetup::Existing` can take these
/// handles and the map and the model then live on one device). Initialises
/// the wgpu runtime if needed; `None` when wgpu has no adapter.
pub fn shared_wgpu_setup() -> Option<WgpuSetup> {
    wgpu_runtime().as_ref().ok().map(|rt| rt.setup.clone())
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
        DeviceChoice::Gpu => match wgpu_runtime() {
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
            Ok(match wgpu_runtime() {
                Ok(rt) if rt.api == wgpu::Backend::Gl => {
                    let n = format!(
                        "wgpu only offers OpenGL ({}), which is far slower than the CPU for this model: \
                         running on the {}; --device gpu forces wgpu",
                        rt.adapter, cpu.description
                    );
                    cpu.with_notice(n)
                }
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

//! Opening the output device: rodio's mixer on the system's default device
//! (cpal: ALSA on Linux, directly or through PulseAudio/PipeWire's ALSA
//! plugin), or a reason a person can read why there is none.
//!
//! rodio 0.23 returns errors rather than panicking when no device exists
//! (`DeviceSinkBuilder::open_default_sink`); ALSA may still print its own
//! complaints ("cannot find card '0'") to stderr on the way.

use crossbeam_channel::Sender;
use rodio::cpal::traits::HostTrait;
use rodio::{DeviceSinkBuilder, DeviceTrait, MixerDeviceSink};

use super::track::OutputFormat;

/// A problem the device reported while playing (from cpal's thread).
#[derive(Debug, Clone)]
pub(crate) struct DeviceError {
    /// The device is gone (unplugged, server stopped): no more sound.
    pub lost: bool,
    /// What cpal said.
    pub message: String,
}

/// An open output device; sound stops when it is dropped.
pub(crate) struct Output {
    pub sink: MixerDeviceSink,
    pub format: OutputFormat,
    pub device_name: String,
}

/// Opens the default output device (falling back to its other
/// configurations, as rodio does) and reports stream errors to `errors`.
/// The error is the reason to show: "No audio output device: ...".
pub(crate) fn open_default(errors: Sender<DeviceError>) -> Result<Output, String> {
    let device = rodio::cpal::default_host()
        .default_output_device()
        .ok_or_else(|| "No audio output device: the system reports none".to_string())?;
    let device_name =
        device.description().map(|d| d.name().to_string()).unwrap_or_else(|_| "default output".to_string());
    let on_error = move |e: rodio::cpal::Error| {
        if e.kind() == rodio::CpalErrorKind::Xrun {
            // An underrun is a click, not news for the user.
            tracing::debug!("audio output underrun: {e}");
            return;
        }
        let lost = matches!(
            e.kind(),
            rodio::CpalErrorKind::DeviceNotAvailable
                | rodio::CpalErrorKind::HostUnavailable
                | rodio::CpalErrorKind::StreamInvalidated
        );
        tracing::warn!("audio output error: {e}");
        let _ = errors.send(DeviceError { lost, message: e.to_string() });
    };
    let mut sink = DeviceSinkBuilder::from_device(device)
        .map_err(|e| format!("No audio output device: {e}"))?
        .with_error_callback(on_error)
        .open_sink_or_fallback()
        .map_err(|e| format!("No audio output device: {e}"))?;
    sink.log_on_drop(false);
    let format = OutputFormat::new(sink.config().sample_rate().get())
        .map_err(|e| format!("Unusable audio output device ({device_name}): {e}"))?;
    Ok(Output { sink, format, device_name })
}

//! `mixrender._engine`: the thin binding of `mixrender-engine`.
//!
//! Conversion, GIL release and error mapping only; no DSP lives here.

#![forbid(unsafe_code)]

mod errors;
mod meter;
mod renderer;

use pyo3::prelude::*;

/// The header of the WAV file at `path` as the engine reads it, `(frames, channels,
/// sample_rate, subtype)` with libsndfile's name of the subtype; None when the engine does
/// not read the file (another format or encoding) or it cannot be opened, for soundfile to
/// read or to explain. ValueError (the reason, one line) when it is a WAV file the engine
/// reads that contradicts itself: cut short, or a sample rate outside 8000..384000 Hz.
#[pyfunction]
fn probe_wav(
    py: Python<'_>,
    path: std::path::PathBuf,
) -> PyResult<Option<(u64, usize, u32, &'static str)>> {
    match py.detach(|| mixrender_engine::wav::probe(&path)) {
        Ok(Some(info)) => Ok(Some((
            info.frames,
            info.channels,
            info.sample_rate,
            info.subtype(),
        ))),
        Ok(None) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(pyo3::exceptions::PyValueError::new_err(e.to_string()))
        }
        Err(_) => Ok(None),
    }
}

#[pymodule(gil_used = false)]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<renderer::PyRenderer>()?;
    m.add_class::<meter::PyMeter>()?;
    m.add_function(wrap_pyfunction!(probe_wav, m)?)?;
    m.add("PLAN_VERSION", mixrender_engine::PLAN_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

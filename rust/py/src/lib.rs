//! `mixrender._engine`: the thin binding of `mixrender-engine`.
//!
//! Conversion, GIL release and error mapping only; no DSP lives here.

mod errors;
mod meter;
mod renderer;

use pyo3::prelude::*;

/// The header of the WAV file at `path` as the engine reads it, `(frames, channels,
/// sample_rate, subtype)` with libsndfile's name of the subtype; None when the engine does
/// not read the file (another format or encoding, a cut file) or it cannot be opened, for
/// soundfile to read or to explain.
#[pyfunction]
fn probe_wav(py: Python<'_>, path: std::path::PathBuf) -> Option<(u64, usize, u32, &'static str)> {
    let info = py.detach(|| mixrender_engine::wav::probe(&path)).ok()??;
    Some((info.frames, info.channels, info.sample_rate, info.subtype()))
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

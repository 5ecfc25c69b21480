//! The one mapping from engine errors to the Python exceptions of `mixrender.errors`, and
//! the one way the binding runs engine work ([`run`]).
//!
//! Each [`EngineError`] variant maps to one class, here and nowhere else:
//! `MixError` for the mix file (the plan), `SourceError` for a source (missing, unreadable,
//! cut short, not finite, another shape than planned: a track's, or a convolution's impulse
//! response), `RenderError` for the rest (a caller's misuse of the API, the thread pool, the
//! output file). All are `mixrender.MixrenderError`s.

use mixrender_engine::EngineError;
use pyo3::prelude::*;

pyo3::import_exception!(mixrender.errors, MixError);
pyo3::import_exception!(mixrender.errors, RenderError);

/// Runs `work` with the GIL released, then lets a pending signal through (Ctrl-C becomes
/// `KeyboardInterrupt` before the result is looked at) and maps the engine's error.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> mixrender_engine::Result<T> + Send,
) -> PyResult<T> {
    let result = py.detach(work);
    py.check_signals()?;
    result.map_err(|e| to_py(py, e))
}

/// The Python exception for `err`.
pub(crate) fn to_py(py: Python<'_>, err: EngineError) -> PyErr {
    let message = err.to_string();
    match err {
        EngineError::Plan { .. } | EngineError::RoutingCycle { .. } => MixError::new_err(message),
        EngineError::SourceLength { track, .. } => {
            source_error(py, message, format!("track \"{track}\""), None)
        }
        EngineError::SourceRead { track, path, .. }
        | EngineError::SourceChannels { track, path, .. } => {
            source_error(py, message, format!("track \"{track}\""), Some(path))
        }
        EngineError::SourceNotFinite { track, path, .. } => {
            source_error(py, message, format!("track \"{track}\""), path)
        }
        EngineError::ImpulseResponse { index, path, .. } => {
            source_error(py, message, format!("impulse response {index}"), path)
        }
        EngineError::SourceCount { .. }
        | EngineError::NoTrack { .. }
        | EngineError::NoStem { .. }
        | EngineError::StemsNotEnabled
        | EngineError::NoImpulseResponse { .. }
        | EngineError::ThreadPool { .. }
        | EngineError::OutputFormat { .. }
        | EngineError::Output { .. }
        | EngineError::OutputLength { .. }
        | EngineError::BlockSize { .. } => RenderError::new_err(message),
        _ => RenderError::new_err(format!("engine error: {message}")),
    }
}

/// `mixrender.errors.SourceError.from_engine(message, where, path)`: `where` names what the
/// engine was reading (`track "A"`, `impulse response 0`), `path` its file when known.
fn source_error(py: Python<'_>, message: String, place: String, path: Option<String>) -> PyErr {
    let made = py
        .import("mixrender.errors")
        .and_then(|m| m.getattr("SourceError"))
        .and_then(|cls| cls.call_method1("from_engine", (message, place, path)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

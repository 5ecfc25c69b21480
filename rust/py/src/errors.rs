//! The one mapping from engine errors to the Python exceptions of `mixrender.errors`.

use mixrender_engine::EngineError;
use pyo3::PyErr;

pyo3::import_exception!(mixrender.errors, RenderError);

/// Every engine error reaching Python is a `RenderError`: the mix file and its sources
/// were validated in Python, so what the engine refuses is a render that cannot go on.
pub(crate) fn to_py(err: EngineError) -> PyErr {
    let message = match &err {
        EngineError::Plan { .. }
        | EngineError::RoutingCycle { .. }
        | EngineError::SourceLength { .. }
        | EngineError::SourceRead { .. }
        | EngineError::SourceNotFinite { .. }
        | EngineError::Output { .. }
        | EngineError::OutputLength { .. }
        | EngineError::BlockSize { .. } => err.to_string(),
        _ => format!("engine error: {err}"),
    };
    RenderError::new_err(message)
}

//! `mixrender._engine`: the thin binding of `mixrender-engine`.
//!
//! Conversion, GIL release and error mapping only; no DSP lives here.

mod errors;
mod meter;
mod renderer;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<renderer::PyRenderer>()?;
    m.add_class::<meter::PyMeter>()?;
    m.add("PLAN_VERSION", mixrender_engine::PLAN_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! `Meter`: the engine's streaming meter (ITU-R BS.1770-4 loudness with the EBU Tech 3341
//! and 3342 measures, BS.1770-4 Annex 2 true peak, sample levels and octave bands) for
//! audio read block by block in Python. Conversion and GIL release only: the
//! de-interleave and all the metering happen in `mixrender_engine::meter`.

use mixrender_engine::meter::{Interleaved, Meter, MeterReport, OCTAVE_BANDS};
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A block as soundfile reads it: C-contiguous `(frames, channels)`.
#[derive(FromPyObject)]
pub(crate) enum Block<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

#[pyclass(name = "Meter", module = "mixrender._engine")]
pub(crate) struct PyMeter {
    meter: Meter,
}

fn not_contiguous<E>(_: E) -> PyErr {
    PyValueError::new_err("audio blocks must be C-contiguous: use np.ascontiguousarray")
}

#[pymethods]
impl PyMeter {
    /// A meter for `channels` (1, 2, 5 as L, R, C, Ls, Rs or 6 as L, R, C, LFE, Ls, Rs)
    /// at `sample_rate` Hz; `ValueError` for anything else.
    #[new]
    #[pyo3(signature = (sample_rate, channels))]
    fn new(sample_rate: i64, channels: i64) -> PyResult<Self> {
        let rate = u32::try_from(sample_rate).map_err(|_| {
            PyValueError::new_err(format!("sample_rate must be positive, not {sample_rate}"))
        })?;
        let count = usize::try_from(channels).map_err(|_| {
            PyValueError::new_err(format!("channels must be positive, not {channels}"))
        })?;
        let meter = Meter::new(rate, count).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self { meter })
    }

    #[getter]
    fn sample_rate(&self) -> u32 {
        self.meter.sample_rate()
    }

    #[getter]
    fn channels(&self) -> usize {
        self.meter.channels()
    }

    /// Feeds a C-contiguous `(frames, channels)` float32 or float64 block. The array is
    /// read in place (no copy in Python); the engine de-interleaves and widens it with the
    /// GIL released.
    fn process(&mut self, py: Python<'_>, block: Block<'_>) -> PyResult<()> {
        let channels = self.meter.channels();
        let shape = match &block {
            Block::F32(a) => a.shape(),
            Block::F64(a) => a.shape(),
        };
        if shape[1] != channels {
            return Err(PyValueError::new_err(format!(
                "block has {} channels, the meter {channels}",
                shape[1]
            )));
        }
        let input = match &block {
            Block::F32(a) => Interleaved::F32(a.as_slice().map_err(not_contiguous)?),
            Block::F64(a) => Interleaved::F64(a.as_slice().map_err(not_contiguous)?),
        };
        let meter = &mut self.meter;
        py.detach(|| meter.process_interleaved(input));
        Ok(())
    }

    /// Every figure so far, as a new dict (see `mixrender._engine.pyi` for the keys);
    /// `None` where a value is undefined (silence, too short for a window).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.meter.report())
    }
}

/// The report as the dict `Meter.report()` returns (also for a render report).
pub(crate) fn to_dict<'py>(py: Python<'py>, r: &MeterReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("frames", r.frames)?;
    d.set_item("sample_rate", r.sample_rate)?;
    d.set_item("channels", r.channels)?;
    d.set_item("sample_peak_dbfs", r.sample_peak_dbfs)?;
    d.set_item("true_peak_dbtp", r.true_peak_dbtp)?;
    d.set_item("integrated_lufs", r.integrated_lufs)?;
    d.set_item("loudness_range_lu", r.loudness_range_lu)?;
    d.set_item("momentary_lufs", r.momentary_lufs)?;
    d.set_item("short_term_lufs", r.short_term_lufs)?;
    d.set_item("max_momentary_lufs", r.max_momentary_lufs)?;
    d.set_item("max_short_term_lufs", r.max_short_term_lufs)?;
    d.set_item("rms_dbfs", r.rms_dbfs)?;
    d.set_item("crest_db", r.crest_db)?;
    d.set_item("correlation", r.correlation)?;
    d.set_item("dc_offset", r.dc_offset)?;
    let bands = PyDict::new(py);
    for ((label, _), level) in OCTAVE_BANDS.iter().zip(r.octave_bands_db) {
        bands.set_item(label, level)?;
    }
    d.set_item("octave_bands_db", bands)?;
    Ok(d)
}

//! `Renderer`: one render's engine, driven block by block from Python.

use mixrender_engine::render::ImpulseResponse;
use mixrender_engine::wav::{Expected, WavSink};
use mixrender_engine::{Engine, EngineConfig, EngineError, OutputBlock, Plan, SourceBlock};
use numpy::{PyReadonlyArray2, PyReadonlyArrayDyn, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::run;

/// A source block as soundfile reads it: C-contiguous `(frames, channels)`.
#[derive(FromPyObject)]
pub(crate) enum SourceArray<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// An impulse response's samples: a C-contiguous `(frames,)` or `(frames, channels)` array.
#[derive(FromPyObject)]
pub(crate) enum IrArray<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

impl IrArray<'_> {
    /// Copies the samples into the engine's form (interleaved float64): the one copy.
    fn to_engine(&self, sample_rate: u32) -> PyResult<ImpulseResponse> {
        let contiguous_ir = |e| {
            PyValueError::new_err(format!(
                "impulse responses must be C-contiguous ({e}): use np.ascontiguousarray"
            ))
        };
        let shape = match self {
            Self::F32(a) => a.shape(),
            Self::F64(a) => a.shape(),
        };
        let channels = match *shape {
            [_] => 1,
            [_, channels] => channels,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "an impulse response is a (frames,) or (frames, channels) array, not {}-D",
                    shape.len()
                )));
            }
        };
        let samples = match self {
            Self::F32(a) => widen(a.as_slice().map_err(contiguous_ir)?),
            Self::F64(a) => a.as_slice().map_err(contiguous_ir)?.to_vec(),
        };
        Ok(ImpulseResponse {
            channels,
            sample_rate,
            samples,
        })
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

/// The caller's preallocated `(frames, 2)` output block.
#[derive(FromPyObject)]
pub(crate) enum OutArray<'py> {
    F32(PyReadwriteArray2<'py, f32>),
    F64(PyReadwriteArray2<'py, f64>),
    I16(PyReadwriteArray2<'py, i16>),
    /// 24-bit samples shifted left by 8, as libsndfile takes them.
    I32(PyReadwriteArray2<'py, i32>),
}

fn contiguous<S>(slice: Result<S, numpy::AsSliceError>) -> PyResult<S> {
    slice.map_err(|_| {
        PyValueError::new_err("audio blocks must be C-contiguous: use np.ascontiguousarray")
    })
}

/// The engine's view of a caller's `(frames, 2)` output array.
fn output_block<'a>(out: &'a mut OutArray<'_>) -> PyResult<OutputBlock<'a>> {
    let shape_ok = |s: &[usize]| s.len() == 2 && s[1] == 2;
    Ok(match out {
        OutArray::F32(a) if shape_ok(a.shape()) => OutputBlock::F32(contiguous(a.as_slice_mut())?),
        OutArray::F64(a) if shape_ok(a.shape()) => OutputBlock::F64(contiguous(a.as_slice_mut())?),
        OutArray::I16(a) if shape_ok(a.shape()) => OutputBlock::I16(contiguous(a.as_slice_mut())?),
        OutArray::I32(a) if shape_ok(a.shape()) => OutputBlock::I24(contiguous(a.as_slice_mut())?),
        _ => {
            return Err(PyValueError::new_err(
                "output block must have shape (frames, 2)",
            ));
        }
    })
}

/// One level point as Python sees it: `(peak_dbfs, rms_dbfs, dc, correlation)`.
type LevelPoint = (Option<f64>, Option<f64>, f64, Option<f64>);

#[pyclass(name = "Renderer", module = "mixrender._engine")]
pub(crate) struct PyRenderer {
    engine: Engine,
    wanted: Vec<usize>,
    /// The WAV file the engine writes each block to, when `open_output` was called.
    sink: Option<WavSink>,
    /// `(track, file)` for the sources whose blocks the caller hands in, to name the file in
    /// the engine's errors about them.
    labels: Vec<(String, String)>,
}

#[pymethods]
impl PyRenderer {
    /// Builds the engine from the plan's canonical JSON bytes and the impulse responses its
    /// convolution inserts index: `irs` is a list of `(array, sample_rate)`, each array a
    /// C-contiguous `(frames,)` or `(frames, channels)` float32/float64 array. The samples
    /// are copied (widened to float64) here, so the arrays may be reused at once; the
    /// engine resamples a response at another rate than the plan's with the GIL released.
    /// `stems`: whether `write_stem` will be called after each block. `ir_paths`: the file
    /// of each impulse response, named in the engine's errors about it.
    #[new]
    #[pyo3(signature = (plan, max_block, threads, irs=None, stems=false, ir_paths=None))]
    fn new(
        py: Python<'_>,
        plan: &[u8],
        max_block: usize,
        threads: usize,
        irs: Option<Vec<(IrArray<'_>, u32)>>,
        stems: bool,
        ir_paths: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let irs = irs
            .unwrap_or_default()
            .iter()
            .map(|(a, rate)| a.to_engine(*rate))
            .collect::<PyResult<Vec<_>>>()?;
        let engine = run(py, || {
            let plan = Plan::from_json(plan)?;
            let config = EngineConfig {
                max_block,
                threads,
                stems,
            };
            Engine::with_impulse_responses(&plan, config, irs)
                .map_err(|e| named_ir(ir_paths.as_deref().unwrap_or_default(), e))
        })?;
        let wanted = vec![0; engine.tracks()];
        Ok(Self {
            engine,
            wanted,
            sink: None,
            labels: Vec::new(),
        })
    }

    /// Output length in frames.
    #[getter]
    fn frames(&self) -> u64 {
        self.engine.frames()
    }

    /// Lets the engine read track `track`'s source file itself (a WAV of 16/24/32-bit
    /// integers or 32-bit floats whose header reads as `frames`, `channels`, `sample_rate`):
    /// each block is decoded on the worker that plays the track, and the file is hashed on
    /// the way (`source_digests`). Returns False when the engine does not read this file;
    /// the caller then passes its blocks to `process` as before (None for the others).
    /// `digest` false: the file is not hashed (`source_digests` then fails), for less work.
    #[pyo3(signature = (track, path, frames, channels, sample_rate, digest=true))]
    #[allow(clippy::too_many_arguments)]
    fn open_file(
        &mut self,
        py: Python<'_>,
        track: usize,
        path: std::path::PathBuf,
        frames: u64,
        channels: usize,
        sample_rate: u32,
        digest: bool,
    ) -> PyResult<bool> {
        let expected = Expected {
            frames,
            channels,
            sample_rate,
        };
        let engine = &mut self.engine;
        run(py, || engine.open_file_with(track, &path, expected, digest))
    }

    /// Names the file behind each `(track name, file)` whose blocks are handed to `process`,
    /// so that an error about a sample of such a source names its file too.
    fn name_sources(&mut self, labels: Vec<(String, String)>) {
        self.labels = labels;
    }

    /// Per track, the hex SHA-256 of the file the engine read (the rest of it is read now),
    /// None for a track whose blocks were passed in.
    fn source_digests(&mut self, py: Python<'_>) -> PyResult<Vec<Option<String>>> {
        let engine = &mut self.engine;
        let digests = run(py, || engine.source_digests())?;
        Ok(digests.into_iter().map(|d| d.map(|d| hex(&d))).collect())
    }

    /// Timeline frame of the next block.
    #[getter]
    fn position(&self) -> u64 {
        self.engine.position()
    }

    /// Source frames each track needs for the next block of `n` frames (a new list).
    fn wanted(&mut self, n: usize) -> Vec<usize> {
        self.engine.source_frames_wanted(n, &mut self.wanted);
        self.wanted.clone()
    }

    /// Renders the next `n` frames. `inputs` holds one `(frames, channels)` float32 or
    /// float64 array per track, with exactly the frames `wanted(n)` asked for (None for a
    /// track the engine reads itself, see `open_file`); they are widened into the engine's
    /// float64 buffers (the one copy) with the GIL released.
    fn process(
        &mut self,
        py: Python<'_>,
        inputs: Vec<Option<SourceArray<'_>>>,
        n: usize,
    ) -> PyResult<()> {
        let mut blocks = Vec::with_capacity(inputs.len());
        for a in &inputs {
            blocks.push(match a {
                Some(SourceArray::F32(x)) => SourceBlock::F32(contiguous(x.as_slice())?),
                Some(SourceArray::F64(x)) => SourceBlock::F64(contiguous(x.as_slice())?),
                None => SourceBlock::F64(&[]),
            });
        }
        let (engine, sink, labels) = (&mut self.engine, &mut self.sink, &self.labels);
        run(py, || {
            engine
                .process_block(&blocks, n)
                .map_err(|e| labelled(labels, e))?;
            sink.as_mut().map_or(Ok(()), |s| s.write_from(engine))
        })
    }

    /// Has the engine write each block to a new WAV file at `path` (stereo, the plan's rate,
    /// `bit_depth` 16, 24 or 32 for float), converted as `write` converts it, from the next
    /// block on; `close_output` completes it.
    fn open_output(
        &mut self,
        py: Python<'_>,
        path: std::path::PathBuf,
        sample_rate: u32,
        bit_depth: u16,
    ) -> PyResult<()> {
        let max_block = self.engine.max_block();
        self.sink = Some(run(py, || {
            WavSink::create(&path, sample_rate, bit_depth, max_block)
        })?);
        Ok(())
    }

    /// Completes the WAV file `open_output` started; returns the hex SHA-256 of its samples
    /// as the data chunk holds them. Without an open output, None.
    fn close_output(&mut self, py: Python<'_>) -> PyResult<Option<String>> {
        let Some(sink) = self.sink.take() else {
            return Ok(None);
        };
        let digest = run(py, || sink.finish())?;
        Ok(Some(hex(&digest)))
    }

    /// Writes the last block into `out`, a preallocated C-contiguous `(frames, 2)` array:
    /// float32/float64 are clipped, int16/int32 (24-bit, shifted left by 8) are dithered
    /// and quantised as the plan says. No copy beyond the conversion itself.
    fn write(&self, py: Python<'_>, mut out: OutArray<'_>) -> PyResult<()> {
        let block = output_block(&mut out)?;
        let engine = &self.engine;
        run(py, || engine.write_output(block))
    }

    /// Names of the stems: the master's direct inputs, in the order they are summed.
    fn stem_names(&self) -> Vec<String> {
        self.engine
            .stem_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Writes stem `k`'s last block into `out`, as `write` does, but floats unclipped.
    fn write_stem(&self, py: Python<'_>, k: usize, mut out: OutArray<'_>) -> PyResult<()> {
        let block = output_block(&mut out)?;
        let engine = &self.engine;
        run(py, || engine.write_stem(k, block))
    }

    /// Meters the output from the next block on: `clipped` meters what the file holds,
    /// otherwise the master before the clip (for loudness normalisation). `octave_bands`
    /// false leaves the report's octave bands out (None), for less work.
    #[pyo3(signature = (sample_rate, clipped, octave_bands=true))]
    fn enable_meter(&mut self, sample_rate: u32, clipped: bool, octave_bands: bool) {
        self.engine
            .enable_meter_with(sample_rate, clipped, octave_bands);
    }

    /// The output meter's report as a dict (see `Meter.report`), or None when not enabled.
    fn meter_report<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.engine
            .meter_report()
            .map(|r| crate::meter::to_dict(py, &r))
            .transpose()
    }

    /// Measures levels at every point of every strip from the next block on.
    fn enable_levels(&mut self) {
        self.engine.enable_levels();
    }

    /// Per strip: `(name, [(peak_dbfs, rms_dbfs, dc, correlation), ...])` per point, None
    /// for silence or mono; tracks `[source, clip gain, after each insert, fader]`, buses
    /// `[input, after each insert, fader]`.
    fn levels(&self) -> Vec<(String, Vec<LevelPoint>)> {
        self.engine
            .levels()
            .into_iter()
            .map(|(name, points)| {
                let points = points
                    .iter()
                    .map(|l| (l.peak_db(), l.rms_db(), l.dc(), l.correlation()))
                    .collect();
                (name.to_owned(), points)
            })
            .collect()
    }

    /// `((peak_l, peak_r), (clipped_l, clipped_r))` so far: peaks as linear `|x|` before
    /// the clip, clipped sample counts per channel.
    fn stats(&self) -> ((f64, f64), (u64, u64)) {
        let s = self.engine.stats();
        ((s.peak[0], s.peak[1]), (s.clipped[0], s.clipped[1]))
    }
}

/// The error, naming the file of a source handed in (the engine knows only its own).
fn labelled(labels: &[(String, String)], err: EngineError) -> EngineError {
    match err {
        EngineError::SourceNotFinite {
            track,
            path: None,
            frame,
        } => {
            let path = labels
                .iter()
                .find(|(t, _)| *t == track)
                .map(|(_, p)| p.clone());
            EngineError::SourceNotFinite { track, path, frame }
        }
        other => other,
    }
}

/// The error, naming the file of an impulse response (the engine has its samples only).
fn named_ir(paths: &[String], err: EngineError) -> EngineError {
    match err {
        EngineError::ImpulseResponse {
            index,
            path: None,
            reason,
        } => EngineError::ImpulseResponse {
            index,
            path: paths.get(index).cloned(),
            reason,
        },
        other => other,
    }
}

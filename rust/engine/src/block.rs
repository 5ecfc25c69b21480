//! The engine's block I/O: what a caller hands in (a track's source samples) and where a
//! rendered block goes (a caller's buffer or a file writer), with the one conversion from
//! the master's float64 to the output's samples: clip, or dither and quantise.
//!
//! Depends on [`crate::dither`] and [`crate::error`] only: strips read [`SourceBlock`]s,
//! [`crate::wav`] writes what an [`OutputSource`] fills, and neither knows the engine.

use crate::dither;
use crate::error::{EngineError, Result};

/// A block of one track's source audio, interleaved, as read from the file.
#[derive(Debug, Clone, Copy)]
pub enum SourceBlock<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl SourceBlock<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::F32(s) => s.len(),
            Self::F64(s) => s.len(),
        }
    }

    pub(crate) fn slice(&self, lo: usize, hi: usize) -> Self {
        match *self {
            Self::F32(s) => Self::F32(&s[lo..hi]),
            Self::F64(s) => Self::F64(&s[lo..hi]),
        }
    }

    /// Index of the first NaN or infinity, if any.
    pub(crate) fn first_non_finite(&self) -> Option<usize> {
        match *self {
            Self::F32(s) => first_non_finite(s, f32::is_finite),
            Self::F64(s) => first_non_finite(s, f64::is_finite),
        }
    }
}

/// Index of the first `x` that is not `finite`. Runs of 64 are checked without a branch, so
/// that the check vectorises: it reads every source sample the render uses.
fn first_non_finite<T: Copy>(x: &[T], finite: impl Fn(T) -> bool) -> Option<usize> {
    const RUN: usize = 64;
    x.chunks(RUN).enumerate().find_map(|(k, run)| {
        let ok = run.iter().fold(true, |ok, &v| ok & finite(v));
        if ok {
            None
        } else {
            run.iter().position(|&v| !finite(v)).map(|i| k * RUN + i)
        }
    })
}

/// Where the master's block goes, interleaved stereo.
pub enum OutputBlock<'a> {
    /// Clipped to full scale, no dither.
    F32(&'a mut [f32]),
    /// Clipped to full scale, no dither.
    F64(&'a mut [f64]),
    /// 16-bit integers, dithered as the plan says.
    I16(&'a mut [i16]),
    /// 24-bit integers shifted left by 8 (the top three bytes of an i32), dithered as the plan says.
    I24(&'a mut [i32]),
}

/// Something whose last block can be written as output samples: the engine's master (see
/// [`crate::Engine::write_output`]). File writers take one of these, not the engine.
pub trait OutputSource {
    /// Frames in the last block.
    fn block_frames(&self) -> usize;

    /// Converts the last block into `out` (two samples per frame).
    ///
    /// # Errors
    /// [`EngineError::OutputLength`] unless `out` holds exactly two samples per frame.
    fn write_output(&self, out: OutputBlock<'_>) -> Result<()>;
}

/// How a block of float64 stereo becomes output samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conversion {
    /// Output frame of the block's first frame: the dither's position.
    pub(crate) first: u64,
    /// The dither stream's seed.
    pub(crate) seed: u64,
    /// Whether integers are dithered.
    pub(crate) dither: bool,
    /// Whether floats are clipped to full scale.
    pub(crate) clip: bool,
}

impl OutputBlock<'_> {
    /// Fills the block from `l` and `r` (of the block's length): floats clipped when
    /// `how.clip`, integers dithered (when `how.dither`) and quantised.
    ///
    /// # Errors
    /// [`EngineError::OutputLength`] unless the block holds two samples per frame of `l`.
    pub(crate) fn fill(self, l: &[f64], r: &[f64], how: Conversion) -> Result<()> {
        let out = self;
        let n = l.len();
        let Conversion {
            first,
            seed,
            dither,
            clip,
        } = how;
        let len = match &out {
            OutputBlock::F32(o) => o.len(),
            OutputBlock::F64(o) => o.len(),
            OutputBlock::I16(o) => o.len(),
            OutputBlock::I24(o) => o.len(),
        };
        if len != 2 * n {
            return Err(EngineError::OutputLength {
                expected: 2 * n,
                actual: len,
            });
        }
        let noise = |i: usize, c: u64| {
            if dither {
                dither::tpdf(seed, first + i as u64, c)
            } else {
                0.0
            }
        };
        let limit = if clip { 1.0 } else { f64::INFINITY };
        match out {
            OutputBlock::F32(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    // cast: float output is float32
                    let (a, b) = (
                        l[i].clamp(-limit, limit) as f32,
                        r[i].clamp(-limit, limit) as f32,
                    );
                    f[0] = a;
                    f[1] = b;
                }
            }
            OutputBlock::F64(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    f[0] = l[i].clamp(-limit, limit);
                    f[1] = r[i].clamp(-limit, limit);
                }
            }
            OutputBlock::I16(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    // cast: quantised to 16 bits
                    {
                        f[0] = dither::quantize(l[i], 16, noise(i, 0)) as i16;
                        f[1] = dither::quantize(r[i], 16, noise(i, 1)) as i16;
                    }
                }
            }
            OutputBlock::I24(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    f[0] = dither::quantize(l[i], 24, noise(i, 0)) << 8;
                    f[1] = dither::quantize(r[i], 24, noise(i, 1)) << 8;
                }
            }
        }
        Ok(())
    }
}

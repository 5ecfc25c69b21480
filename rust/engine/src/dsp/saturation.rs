//! `saturation`: an oversampled static curve, as the mix-format spec defines it.
//!
//! * `tanh`: `y = tanh(g x)`, `g = 10^(drive_db / 20)`;
//! * `soft`: `y = u - u^3 / 3` with `u = clamp(g x, -1, 1)`;
//!
//! then `output_db`, with no other normalisation, and `(1 - mix) dry + mix wet` with the
//! dry path delayed by the latency. The drive is applied at the base rate, the curve at
//! `oversample` x the rate ([`Oversampler`]: linear-phase half-band stages with 120 dB
//! stopbands), so that harmonics that would fold below the fundamental are removed before
//! decimation: with the default 8x, a 10 kHz tone at 48 kHz driven by 12 dB leaves every
//! alias below the fundamental more than 80 dB under it (the spec's requirement; see
//! `tests/strip_saturation.rs`). The reference for aliasing is the curve applied to the
//! continuous signal; for the curve itself, the formulas above (references section 9).
//!
//! `drive_db` is read on the control grid, `output_db` and `mix` per frame (at the frame
//! the audio left the source, so `latency` frames back from the output's frame).
//! Latency: the oversampler's round trip (0 at 1x; 51, 58, 61, 62 frames at 2x, 4x, 8x,
//! 16x whatever the rate).

use crate::delay::DelayLine;
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::oversample::Oversampler;
use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::{Lane, SaturationParams, SaturationShape};

/// The `saturation` insert. Latency: the oversampler's round trip; allocates in `new`
/// and `prepare` only. Bypassed, it delays by its latency.
pub struct Saturation {
    drive: GridParam,
    output_db: Lane,
    mix: Lane,
    shape: SaturationShape,
    factor: u32,
    os: Oversampler,
    dry: [DelayLine; 2],
    g: f64,
    work: [f64; GRID],
    out_buf: [f64; GRID],
    mix_buf: [f64; GRID],
}

/// `u - u^3 / 3` of `u` clamped to `[-1, 1]`.
#[inline]
fn soft(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    u - u * u * u / 3.0
}

impl Saturation {
    #[must_use]
    pub fn new(p: &SaturationParams) -> Self {
        let os = Oversampler::new(p.oversample, GRID);
        Self {
            drive: GridParam::new(&p.drive_db),
            output_db: p.output_db.clone(),
            mix: p.mix.clone(),
            shape: p.shape,
            factor: p.oversample,
            dry: [DelayLine::new(os.latency()), DelayLine::new(os.latency())],
            os,
            g: 1.0,
            work: [0.0; GRID],
            out_buf: [0.0; GRID],
            mix_buf: [0.0; GRID],
        }
    }
}

impl Processor for Saturation {
    fn prepare(&mut self, _sample_rate: f64, _max_block: usize) {
        self.os = Oversampler::new(self.factor, GRID);
        let lat = self.os.latency();
        self.dry = [DelayLine::new(lat), DelayLine::new(lat)];
        self.drive.invalidate();
    }

    fn reset(&mut self) {
        self.os.reset();
        self.dry.iter_mut().for_each(DelayLine::reset);
    }

    fn latency(&self) -> usize {
        self.os.latency()
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let channels = block.channels;
        // cast: under 100 frames
        let lat = self.os.latency() as i64;
        for chunk in grid::chunks(block.start, block.len()) {
            if let (d, true) = self.drive.at(chunk.grid) {
                self.g = math::db_to_gain(d);
            }
            // The output's frames left the source `lat` frames earlier.
            let at = chunk.frame - lat;
            let out = grid::per_frame(&self.output_db, at, &mut self.out_buf, chunk.len)
                .map(math::db_to_gain);
            if out.is_none() {
                for v in &mut self.out_buf[..chunk.len] {
                    *v = math::db_to_gain(*v);
                }
            }
            let mix = grid::per_frame(&self.mix, at, &mut self.mix_buf, chunk.len);
            for ch in 0..channels {
                let x = if ch == 0 {
                    &mut block.left[chunk.range()]
                } else {
                    &mut block.right[chunk.range()]
                };
                let g = self.g;
                let w = &mut self.work[..chunk.len];
                for (wi, &xi) in w.iter_mut().zip(x.iter()) {
                    *wi = g * xi;
                }
                match self.shape {
                    SaturationShape::Tanh => self.os.process(ch, w, math::tanh),
                    SaturationShape::Soft => self.os.process(ch, w, soft),
                }
                let dry = &mut self.dry[ch];
                for (j, (xi, &wet)) in x.iter_mut().zip(w.iter()).enumerate() {
                    let d = dry.tick(*xi);
                    let wet = wet * out.unwrap_or(self.out_buf[j]);
                    let m = mix.unwrap_or(self.mix_buf[j]);
                    *xi = if m == 1.0 {
                        wet
                    } else {
                        (1.0 - m) * d + m * wet
                    };
                }
            }
        }
    }

    fn process_bypassed(&mut self, block: &mut AudioBlock<'_>) {
        self.dry[0].process(block.left);
        if block.channels == 2 {
            self.dry[1].process(block.right);
        }
    }
}

//! Meters for a rendered file, run in the same pass as the render: loudness per ITU-R
//! BS.1770-4 Annex 1 with the EBU Mode measures of EBU Tech 3341 and the loudness range of
//! EBU Tech 3342 ([`loudness`]), true peak per BS.1770-4 Annex 2 ([`true_peak`]), and
//! sample-level statistics with octave-band levels ([`levels`]).
//!
//! [`Meter`] is the one streaming front: planar (or interleaved) blocks of any size in,
//! a [`MeterReport`] out at any time. Memory is constant in the input's length, `process`
//! never allocates, and the report is bit-identical for any split of the input into
//! blocks (everything is summed on a fixed 10 ms grid anchored at sample 0).

pub mod levels;
pub mod loudness;
pub mod true_peak;

use core::fmt;

pub use levels::{LevelsReport, OCTAVE_BANDS};
pub use loudness::{Loudness, channel_weights};
pub use true_peak::{TruePeak, true_peak_of};

use crate::math;
use levels::Levels;

/// Most channels a [`Meter`] takes (5.1).
pub const MAX_CHANNELS: usize = 6;
/// Lowest sample rate a [`Meter`] takes, Hz.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate a [`Meter`] takes, Hz.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Frames de-interleaved at a time by [`Meter::process_interleaved`].
const CHUNK: usize = 1024;

/// Why a [`Meter`] cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterError {
    /// Not 1, 2, 5 (L, R, C, Ls, Rs) or 6 (L, R, C, LFE, Ls, Rs) channels.
    Channels { channels: usize },
    /// Outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
    SampleRate { sample_rate: u32 },
}

impl fmt::Display for MeterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channels { channels } => write!(
                f,
                "the meter takes 1, 2, 5 (L, R, C, Ls, Rs) or 6 (L, R, C, LFE, Ls, Rs) \
                 channels, not {channels}"
            ),
            Self::SampleRate { sample_rate } => write!(
                f,
                "the meter takes sample rates of {MIN_SAMPLE_RATE} .. {MAX_SAMPLE_RATE} Hz, \
                 not {sample_rate}"
            ),
        }
    }
}

impl std::error::Error for MeterError {}

/// Interleaved frames (`[L0, R0, L1, R1, ...]`) as a file reader produces them.
#[derive(Debug, Clone, Copy)]
pub enum Interleaved<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Interleaved<'_> {
    fn len(&self) -> usize {
        match self {
            Self::F32(x) => x.len(),
            Self::F64(x) => x.len(),
        }
    }
}

/// Every figure of a [`Meter`]. Levels in dB and loudness values are `None` where they
/// are undefined: silence, or too little input for a full window.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReport {
    /// Frames measured.
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: usize,
    /// `max |x|` over all channels (the LFE included), dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// BS.1770 Annex 2 true peak (4x, `max(interpolated, sample peak)`) over all channels
    /// (the LFE included), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// BS.1770-4 gated integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// EBU Tech 3342 loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// Momentary loudness of the last full 400 ms window on the 10 ms grid, LUFS.
    pub momentary_lufs: Option<f64>,
    /// Short-term loudness of the last full 3 s window on the 10 ms grid, LUFS.
    pub short_term_lufs: Option<f64>,
    /// Largest momentary loudness, every full window at a 10 ms hop, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Largest short-term loudness, every full window at a 10 ms hop, LUFS.
    pub max_short_term_lufs: Option<f64>,
    /// RMS of the measured channels, dBFS (a 0 dBFS sine reads -3.01; not AES17).
    pub rms_dbfs: Option<f64>,
    /// Sample peak of the measured channels over their RMS, dB.
    pub crest_db: Option<f64>,
    /// Correlation of the first two channels (L, R), -1..1; `None` for mono or silence.
    pub correlation: Option<f64>,
    /// DC of the measured channel with the largest mean, signed, linear full scale.
    pub dc_offset: Option<f64>,
    /// Level per octave band, in [`OCTAVE_BANDS`] order (nominal 31.5 Hz .. 16 kHz), dB.
    pub octave_bands_db: [Option<f64>; OCTAVE_BANDS.len()],
}

/// The streaming meter: loudness, true peak and levels of a 1-, 2-, 5- or 6-channel
/// signal in one pass.
///
/// * `process` / `process_interleaved` take blocks of any size, never allocate, and give
///   bit-identical reports for any split of the input.
/// * Memory is constant (about 0.5 MB, allocated by `new`): no part grows with the input.
/// * Channels are in file order: mono; L, R; L, R, C, Ls, Rs; L, R, C, LFE, Ls, Rs. The
///   LFE is not measured except by the peaks.
///
/// ```
/// use mixrender_engine::{math, meter::Meter};
///
/// // 4 s of a 997 Hz sine at half scale (-6.02 dBFS) in L and R.
/// let w = 2.0 * std::f64::consts::PI * 997.0 / 48_000.0;
/// let tone: Vec<f64> = (0..4 * 48_000).map(|n| 0.5 * math::sin(w * n as f64)).collect();
/// let mut m = Meter::new(48_000, 2).unwrap();
/// for (l, r) in tone.chunks(4096).zip(tone.chunks(4096)) {
///     m.process(&[l, r]);
/// }
/// let r = m.report();
/// // Each channel's mean square is -9.03 dB; two channels add 3.01 dB: -6.02 LUFS.
/// assert!((r.integrated_lufs.unwrap() + 6.02).abs() < 0.01);
/// assert!((r.rms_dbfs.unwrap() + 9.03).abs() < 0.01);
/// ```
#[derive(Debug, Clone)]
pub struct Meter {
    sample_rate: u32,
    loudness: Loudness,
    levels: Levels,
    peaks: Vec<TruePeak>,
    /// Planar scratch for interleaved input: `CHUNK` frames per channel.
    scratch: Vec<f64>,
    pos: u64,
    hop: u64,
    hop_end: u64,
}

impl Meter {
    /// A meter for `channels` (1, 2, 5 or 6) at `sample_rate` Hz. Allocates all its state
    /// here (filter states, the two loudness histograms, a de-interleave buffer).
    ///
    /// # Errors
    /// [`MeterError`] for another channel count or a rate outside 8 kHz .. 768 kHz.
    pub fn new(sample_rate: u32, channels: usize) -> Result<Self, MeterError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(MeterError::SampleRate { sample_rate });
        }
        let weights = channel_weights(channels).ok_or(MeterError::Channels { channels })?;
        let loudness =
            Loudness::new(sample_rate, channels).ok_or(MeterError::Channels { channels })?;
        let measured = weights.iter().map(|&w| w != 0.0).collect();
        Ok(Self {
            sample_rate,
            loudness,
            levels: Levels::new(sample_rate, measured),
            peaks: vec![TruePeak::new(); channels],
            scratch: vec![0.0; CHUNK * channels],
            pos: 0,
            hop: 0,
            hop_end: loudness::hop_boundary(1, sample_rate),
        })
    }

    /// The same meter without the octave bands (`octave_bands_db` all `None`): for a caller
    /// that reads only the loudness, the true peak or the other levels, which are unchanged.
    #[must_use]
    pub fn without_octave_bands(mut self) -> Self {
        self.levels.without_octave_bands();
        self
    }

    /// Back to the state of `new`, without allocating.
    pub fn reset(&mut self) {
        self.loudness.reset();
        self.levels.reset();
        self.peaks.iter_mut().for_each(TruePeak::reset);
        self.pos = 0;
        self.hop = 0;
        self.hop_end = loudness::hop_boundary(1, self.sample_rate);
    }

    #[must_use]
    pub fn channels(&self) -> usize {
        self.peaks.len()
    }

    #[must_use]
    pub const fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The loudness part, for live readings (`momentary`, `short_term` after each hop).
    #[must_use]
    pub const fn loudness(&self) -> &Loudness {
        &self.loudness
    }

    /// Feeds the next frames, planar: one slice per channel, all of the same length.
    ///
    /// # Panics
    /// If the number of slices is not the meter's channel count or their lengths differ.
    pub fn process(&mut self, channels: &[&[f64]]) {
        let nch = self.peaks.len();
        assert_eq!(channels.len(), nch, "channel count");
        let n = channels.first().map_or(0, |c| c.len());
        assert!(
            channels.iter().all(|c| c.len() == n),
            "channel lengths differ"
        );
        self.loudness.process(channels);
        for (p, x) in self.peaks.iter_mut().zip(channels) {
            p.process(x);
        }
        let mut i = 0;
        while i < n {
            let left = usize::try_from(self.hop_end - self.pos).unwrap_or(usize::MAX);
            let take = left.min(n - i);
            let mut part: [&[f64]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
            for (p, x) in part.iter_mut().zip(channels) {
                *p = &x[i..i + take];
            }
            self.levels.process(&part[..nch]);
            i += take;
            self.pos += take as u64;
            if self.pos == self.hop_end {
                self.levels.end_hop();
                self.hop += 1;
                self.hop_end = loudness::hop_boundary(self.hop + 1, self.sample_rate);
            }
        }
    }

    /// Feeds interleaved frames (`float32` values are widened exactly), de-interleaving
    /// through an internal buffer of 1024 frames: no allocation.
    ///
    /// # Panics
    /// If the length is not a multiple of the channel count.
    pub fn process_interleaved(&mut self, block: Interleaved<'_>) {
        let nch = self.peaks.len();
        assert_eq!(block.len() % nch, 0, "interleaved length");
        let frames = block.len() / nch;
        let mut scratch = core::mem::take(&mut self.scratch);
        let mut start = 0;
        while start < frames {
            let n = CHUNK.min(frames - start);
            for c in 0..nch {
                let dst = &mut scratch[c * CHUNK..c * CHUNK + n];
                match block {
                    Interleaved::F32(x) => {
                        for (d, s) in dst.iter_mut().zip(x[start * nch + c..].iter().step_by(nch)) {
                            *d = f64::from(*s);
                        }
                    }
                    Interleaved::F64(x) => {
                        for (d, s) in dst.iter_mut().zip(x[start * nch + c..].iter().step_by(nch)) {
                            *d = *s;
                        }
                    }
                }
            }
            let mut planar: [&[f64]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
            for (c, p) in planar.iter_mut().take(nch).enumerate() {
                *p = &scratch[c * CHUNK..c * CHUNK + n];
            }
            self.process(&planar[..nch]);
            start += n;
        }
        self.scratch = scratch;
    }

    /// Every figure so far. Reads without changing the meter and does not allocate.
    #[must_use]
    pub fn report(&self) -> MeterReport {
        let levels = self.levels.report();
        let true_peak = self.peaks.iter().map(TruePeak::peak).fold(0.0, f64::max);
        let l = &self.loudness;
        MeterReport {
            frames: self.pos,
            sample_rate: self.sample_rate,
            channels: self.peaks.len(),
            sample_peak_dbfs: levels.sample_peak_dbfs,
            true_peak_dbtp: math::gain_to_db(true_peak),
            integrated_lufs: l.integrated(),
            loudness_range_lu: l.loudness_range(),
            momentary_lufs: l.momentary(),
            short_term_lufs: l.short_term(),
            max_momentary_lufs: l.max_momentary(),
            max_short_term_lufs: l.max_short_term(),
            rms_dbfs: levels.rms_dbfs,
            crest_db: levels.crest_db,
            correlation: levels.correlation,
            dc_offset: levels.dc_offset,
            octave_bands_db: levels.octave_bands_db,
        }
    }
}

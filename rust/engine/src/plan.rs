//! The render plan: everything the engine needs, as plain serde data.
//!
//! Python resolves a mix file (names, musical time, routing, defaults, solo) into this
//! plan and hands it over once, as canonical JSON. Positions are already frames and
//! every reference is an index, so the engine never sees a name it must look up.
//! Unknown fields are refused: a plan the engine does not fully understand must not
//! render.

use serde::Deserialize;

use crate::error::{EngineError, Result};

/// The plan layout this engine reads; bumped whenever the layout changes meaning.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub sample_rate: u32,
    /// Output length in frames, from timeline frame 0.
    pub frames: u64,
    /// Tracks first, then buses, each in declaration order; an index here is a strip id.
    pub strips: Vec<Strip>,
    pub vcas: Vec<Vca>,
    pub master: Master,
    pub output: Output,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strip {
    pub name: String,
    /// `Some` for a track, `None` for a bus.
    pub source: Option<Source>,
    /// Clip gain in dB with the polarity folded in by the engine; 0 for buses.
    pub clip_gain_db: f64,
    pub polarity: bool,
    pub pan_law: PanLaw,
    pub gain_db: Lane,
    /// Post-fader trim in dB, added to `gain_db` and the VCAs' (absent: 0 dB).
    #[serde(default = "zero_lane")]
    pub trim_db: Lane,
    pub pan: Lane,
    pub width: Lane,
    /// 0 = sounding, 1 = muted; stepped.
    pub mute: Lane,
    /// Silenced because something else is soloed (resolved statically by the planner).
    pub solo_muted: bool,
    /// Indices into [`Plan::vcas`].
    pub vcas: Vec<usize>,
    pub output: Destination,
    pub sends: Vec<Send>,
    pub inserts: Vec<Insert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub channels: usize,
    pub sample_rate: u32,
    /// Length in source frames (at `sample_rate`).
    pub frames: u64,
    /// Timeline frame of the source's first sample.
    pub offset: u64,
}

/// Where a strip's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    Master,
    Strip(usize),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// Index of the destination bus in [`Plan::strips`].
    pub to: usize,
    pub tap: Tap,
    pub level_db: Lane,
    pub pan: Lane,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tap {
    PreInserts,
    PreFader,
    PostFader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PanLaw {
    #[serde(rename = "-3dB")]
    Minus3,
    #[serde(rename = "-4.5dB")]
    Minus4_5,
    #[serde(rename = "-6dB")]
    Minus6,
    #[serde(rename = "0dB")]
    Zero,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vca {
    pub name: String,
    pub gain_db: Lane,
}

fn zero_lane() -> Lane {
    Lane::constant(0.0)
}

/// Where the master applies the loudness normalisation's gain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoudnessAt {
    /// At the master's input, before its inserts (when a limiter there holds the peaks).
    Input,
    /// After the master's inserts and `gain_db`.
    #[default]
    Output,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Master {
    pub gain_db: Lane,
    /// The loudness normalisation's gain (0 when not normalising), applied where
    /// `loudness_gain_at` says.
    #[serde(default)]
    pub loudness_gain_db: f64,
    #[serde(default)]
    pub loudness_gain_at: LoudnessAt,
    pub inserts: Vec<Insert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// 16 or 24 (integers, optionally dithered) or 32 (IEEE float).
    pub bit_depth: u32,
    pub dither: bool,
    pub seed: u64,
}

/// An insert; the variants are exactly the types whose processing has landed.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Insert {
    Gain {
        name: String,
        bypass: bool,
        gain_db: Lane,
        polarity: bool,
    },
    Width {
        name: String,
        bypass: bool,
        width: Lane,
        /// Not supported yet: the planner refuses anything but null.
        mono_below_hz: Option<Lane>,
    },
    Eq(EqParams),
    Compressor(CompressorParams),
    Gate(GateParams),
    Limiter(LimiterParams),
    Deesser(DeesserParams),
    Saturation(SaturationParams),
    Delay(DelayParams),
    Reverb(ReverbParams),
    Convolution(ConvolutionParams),
}

// The channel strip's inserts. Automatable numeric keys are lanes; keys that fix the
// latency or the structure of a processor are plain values; keys that may be off are
// `Option` (JSON null when off). Ranges are the mix-format spec's; `Insert::check`
// verifies what the engine relies on.

/// `eq`: bands in order, each a cookbook biquad or a Butterworth cascade.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqParams {
    pub name: String,
    pub bypass: bool,
    pub bands: Vec<Band>,
}

/// One EQ band. `gain_db` is always present (0 for types without gain); `q` is null for
/// high- and low-pass at slopes other than 12 dB/oct (Butterworth), and `slope_db_oct` is
/// null for every type but high- and low-pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    #[serde(rename = "type")]
    pub kind: BandType,
    pub freq_hz: Lane,
    pub gain_db: Lane,
    pub q: Option<Lane>,
    pub slope_db_oct: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandType {
    Highpass,
    Lowpass,
    Bell,
    Lowshelf,
    Highshelf,
    Notch,
    Bandpass,
}

/// `compressor`: GMR feed-forward compressor, optionally keyed by another strip.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorParams {
    pub name: String,
    pub bypass: bool,
    pub threshold_db: Lane,
    pub ratio: Lane,
    pub knee_db: Lane,
    pub attack_ms: Lane,
    pub release_ms: Lane,
    pub makeup_db: Lane,
    pub detector: Detector,
    pub rms_ms: Lane,
    /// Index of the key strip in [`Plan::strips`]; the engine routes its pre-fader signal
    /// into the block's sidechain.
    pub sidechain: Option<usize>,
    /// A cookbook 2nd-order high-pass (Q 0.7071) on the detector's input; null when off.
    pub sidechain_hpf_hz: Option<Lane>,
    pub stereo_link: bool,
    pub mix: Lane,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    Peak,
    Rms,
}

/// `gate`: opens above the threshold, holds, then closes to `range_db`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateParams {
    pub name: String,
    pub bypass: bool,
    pub threshold_db: Lane,
    pub range_db: Lane,
    pub attack_ms: Lane,
    pub hold_ms: Lane,
    pub release_ms: Lane,
    pub sidechain: Option<usize>,
}

/// `limiter`: lookahead peak limiter; `lookahead_ms` fixes its latency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimiterParams {
    pub name: String,
    pub bypass: bool,
    pub ceiling_db: Lane,
    pub release_ms: Lane,
    pub lookahead_ms: f64,
    pub true_peak: bool,
}

/// `deesser`: a compressor keyed by the band above `freq_hz`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeesserParams {
    pub name: String,
    pub bypass: bool,
    pub freq_hz: Lane,
    pub threshold_db: Lane,
    pub range_db: Lane,
    pub split: bool,
}

/// `saturation`: an oversampled static curve; `oversample` fixes its latency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaturationParams {
    pub name: String,
    pub bypass: bool,
    pub drive_db: Lane,
    pub shape: SaturationShape,
    /// 1, 2, 4, 8 or 16.
    pub oversample: u32,
    pub output_db: Lane,
    pub mix: Lane,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaturationShape {
    Tanh,
    Soft,
}

/// `convolution`: an impulse response, handed to the engine beside the plan (the plan
/// carries its index only: samples are data, not plan), with a predelay and a gain on the
/// wet path, and the mix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvolutionParams {
    pub name: String,
    pub bypass: bool,
    /// Index into the impulse responses given to
    /// [`Engine::with_impulse_responses`](crate::Engine::with_impulse_responses).
    pub ir: usize,
    /// 0..1000 ms, read on the control grid.
    pub predelay_ms: Lane,
    pub gain_db: Lane,
    pub mix: Lane,
}

/// `delay`: a feedback delay (`dsp::delay`). `time_ms` is always present: the planner
/// turns a note value into milliseconds at the session's tempo.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayParams {
    pub name: String,
    pub bypass: bool,
    /// 0..10000 ms; the delay is `round(time_ms / 1000 * fs)` frames (0: none).
    pub time_ms: Lane,
    /// -0.99..0.99: the gain of each repeat relative to the one before.
    pub feedback: Lane,
    /// Repeats alternate left and right; a mono input leaves stereo.
    pub ping_pong: bool,
    /// A cookbook 2nd-order high-pass in the loop; null when off.
    pub lowcut_hz: Option<Lane>,
    /// A cookbook 2nd-order low-pass in the loop; null when off.
    pub highcut_hz: Option<Lane>,
    pub mix: Lane,
}

/// `reverb`: the algorithmic reverb (`dsp::reverb`, a feedback delay network).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverbParams {
    pub name: String,
    pub bypass: bool,
    /// The RT60 it produces, 0.01..60 s.
    pub decay_s: Lane,
    /// 0..1000 ms.
    pub predelay_ms: Lane,
    /// 0..1: the lengths of the network's lines.
    pub size: Lane,
    /// Where the decay time has fallen to half of `decay_s`.
    pub damping_hz: Lane,
    /// Mid/side width of the wet signal, 0..2.
    pub width: Lane,
    pub mix: Lane,
}

impl Insert {
    /// The strip that keys this insert's sidechain, if any.
    #[must_use]
    pub fn sidechain(&self) -> Option<usize> {
        match self {
            Self::Compressor(p) => p.sidechain,
            Self::Gate(p) => p.sidechain,
            _ => None,
        }
    }

    /// Every automation lane of the insert, for the plan's lane checks.
    #[must_use]
    pub fn lanes(&self) -> Vec<&Lane> {
        match self {
            Self::Gain { gain_db, .. } => vec![gain_db],
            Self::Width {
                width,
                mono_below_hz,
                ..
            } => core::iter::once(width).chain(mono_below_hz).collect(),
            Self::Eq(p) => p
                .bands
                .iter()
                .flat_map(|b| [&b.freq_hz, &b.gain_db].into_iter().chain(&b.q))
                .collect(),
            Self::Compressor(p) => [
                &p.threshold_db,
                &p.ratio,
                &p.knee_db,
                &p.attack_ms,
                &p.release_ms,
                &p.makeup_db,
                &p.rms_ms,
                &p.mix,
            ]
            .into_iter()
            .chain(&p.sidechain_hpf_hz)
            .collect(),
            Self::Gate(p) => vec![
                &p.threshold_db,
                &p.range_db,
                &p.attack_ms,
                &p.hold_ms,
                &p.release_ms,
            ],
            Self::Limiter(p) => vec![&p.ceiling_db, &p.release_ms],
            Self::Deesser(p) => vec![&p.freq_hz, &p.threshold_db, &p.range_db],
            Self::Saturation(p) => vec![&p.drive_db, &p.output_db, &p.mix],
            Self::Delay(p) => [&p.time_ms, &p.feedback, &p.mix]
                .into_iter()
                .chain(&p.lowcut_hz)
                .chain(&p.highcut_hz)
                .collect(),
            Self::Reverb(p) => vec![
                &p.decay_s,
                &p.predelay_ms,
                &p.size,
                &p.damping_hz,
                &p.width,
                &p.mix,
            ],
            Self::Convolution(p) => vec![&p.predelay_ms, &p.gain_db, &p.mix],
        }
    }

    /// Checks the structural keys the processors rely on (slopes, Q presence, oversampling,
    /// lookahead) and that no lane is empty.
    ///
    /// # Errors
    /// A message naming the insert and the key.
    pub fn check(&self) -> core::result::Result<(), String> {
        if self.lanes().iter().any(|l| l.points.is_empty()) {
            return Err("empty automation lane".into());
        }
        match self {
            Self::Eq(p) => {
                for (i, b) in p.bands.iter().enumerate() {
                    let at = |what: &str| format!("bands.{}: {what}", i + 1);
                    let pass = matches!(b.kind, BandType::Highpass | BandType::Lowpass);
                    match (pass, b.slope_db_oct) {
                        (true, None | Some(6 | 12 | 18 | 24 | 36 | 48)) | (false, None) => {}
                        (true, Some(s)) => {
                            return Err(at(&format!(
                                "slope_db_oct {s} is not 6, 12, 18, 24, 36 or 48"
                            )));
                        }
                        (false, Some(_)) => return Err(at("slope_db_oct on a band without slope")),
                    }
                    let slope = b.slope_db_oct.unwrap_or(12);
                    if pass && slope != 12 && b.q.is_some() {
                        return Err(at(&format!("q is refused at {slope} dB/oct")));
                    }
                }
            }
            Self::Limiter(p) if !(0.0..=100.0).contains(&p.lookahead_ms) => {
                return Err(format!("lookahead_ms {} is not in 0..100", p.lookahead_ms));
            }
            Self::Convolution(p)
                if p.predelay_ms
                    .points
                    .iter()
                    .any(|pt| !(0.0..=1000.0).contains(&pt.1)) =>
            {
                return Err("predelay_ms outside 0..1000".into());
            }
            Self::Saturation(p) if ![1, 2, 4, 8, 16].contains(&p.oversample) => {
                return Err(format!(
                    "oversample {} is not 1, 2, 4, 8 or 16",
                    p.oversample
                ));
            }
            // The lines are sized from these ranges, and the loops are stable inside them.
            Self::Delay(p) => {
                out_of_range(&p.time_ms, "time_ms", 0.0, 10_000.0)?;
                out_of_range(&p.feedback, "feedback", -0.99, 0.99)?;
            }
            Self::Reverb(p) => {
                out_of_range(&p.decay_s, "decay_s", 0.01, 60.0)?;
                out_of_range(&p.predelay_ms, "predelay_ms", 0.0, 1000.0)?;
                out_of_range(&p.size, "size", 0.0, 1.0)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// An error naming `key` when a point of `lane` lies outside `lo..=hi`.
fn out_of_range(lane: &Lane, key: &str, lo: f64, hi: f64) -> core::result::Result<(), String> {
    match lane.points.iter().find(|p| !(lo..=hi).contains(&p.1)) {
        Some(p) => Err(format!("{key} {} is not in {lo}..{hi}", p.1)),
        None => Ok(()),
    }
}

/// An automation lane: breakpoints on frames. A static value is a single point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub points: Vec<Point>,
}

/// `[frame, value, shape, tension]`: `shape` applies to the segment that starts here.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Point(pub u64, pub f64, pub Shape, pub f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Linear,
    Step,
    Smooth,
    FastStart,
    FastEnd,
    Bezier,
}

impl Lane {
    /// A lane that holds one value forever.
    #[must_use]
    pub fn constant(value: f64) -> Self {
        Self {
            points: vec![Point(0, value, Shape::Linear, 0.0)],
        }
    }
}

impl Plan {
    /// Parses a plan from its JSON bytes and checks what serde cannot.
    ///
    /// # Errors
    /// [`EngineError::Plan`] for malformed JSON, another version or a dangling index.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let plan: Self = serde_json::from_slice(bytes).map_err(|e| EngineError::Plan {
            reason: e.to_string(),
        })?;
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(EngineError::Plan { reason });
        if self.version != PLAN_VERSION {
            return bad(format!(
                "plan version {} is not the engine's {PLAN_VERSION}",
                self.version
            ));
        }
        if !(8000..=384_000).contains(&self.sample_rate) {
            return bad(format!("sample rate {} out of range", self.sample_rate));
        }
        if ![16, 24, 32].contains(&self.output.bit_depth) {
            return bad(format!(
                "bit depth {} is not 16, 24 or 32",
                self.output.bit_depth
            ));
        }
        if !self.master.loudness_gain_db.is_finite() {
            return bad("master loudness gain not finite".into());
        }
        let n = self.strips.len();
        let mut lanes: Vec<(&str, &Lane)> = vec![("master gain_db", &self.master.gain_db)];
        for vca in &self.vcas {
            lanes.push((&vca.name, &vca.gain_db));
        }
        let inserts = self
            .strips
            .iter()
            .flat_map(|s| s.inserts.iter().map(move |i| (s.name.as_str(), i)))
            .chain(self.master.inserts.iter().map(|i| ("master", i)));
        for (owner, insert) in inserts {
            if let Err(reason) = insert.check() {
                return bad(format!("{owner}: {reason}"));
            }
            if insert.sidechain().is_some_and(|k| k >= n) {
                return bad(format!("{owner}: sidechain index out of range"));
            }
            lanes.extend(insert.lanes().into_iter().map(|l| (owner, l)));
        }
        for s in &self.strips {
            if let Some(src) = &s.source {
                if !(1..=2).contains(&src.channels) {
                    return bad(format!("{}: {} channels", s.name, src.channels));
                }
                if src.sample_rate == 0 {
                    return bad(format!("{}: source sample rate 0", s.name));
                }
            }
            if let Destination::Strip(i) = s.output {
                if i >= n || self.strips[i].source.is_some() {
                    return bad(format!("{}: output {i} is not a bus", s.name));
                }
            }
            if s.vcas.iter().any(|&v| v >= self.vcas.len()) {
                return bad(format!("{}: VCA index out of range", s.name));
            }
            for send in &s.sends {
                if send.to >= n || self.strips[send.to].source.is_some() {
                    return bad(format!("{}: send to {} is not a bus", s.name, send.to));
                }
                lanes.push((&s.name, &send.level_db));
                lanes.push((&s.name, &send.pan));
            }
            for l in [&s.gain_db, &s.trim_db, &s.pan, &s.width, &s.mute] {
                lanes.push((&s.name, l));
            }
        }
        for (owner, lane) in lanes {
            if lane.points.is_empty() {
                return bad(format!("{owner}: empty automation lane"));
            }
            if lane.points.windows(2).any(|w| w[1].0 < w[0].0) {
                return bad(format!("{owner}: automation points out of order"));
            }
            if lane
                .points
                .iter()
                .any(|p| !p.1.is_finite() || !p.3.is_finite())
            {
                return bad(format!("{owner}: automation value not finite"));
            }
        }
        Ok(())
    }
}

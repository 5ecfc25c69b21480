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

// The channel strip's inserts: their params structs, the `Insert` enum and its accessors are
// generated from the declaration (`plan_gen.rs`). Automatable numeric keys are lanes; keys
// that fix the latency or the structure of a processor are plain values; keys that may be off
// are `Option` (JSON null when off). `Insert::check` verifies them against `params_gen.rs`.

#[rustfmt::skip] // generated: kept exactly as `python -m mixrender.rustgen` writes it
#[path = "plan_gen.rs"]
mod plan_gen;

pub use plan_gen::*;

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

#[rustfmt::skip] // generated: kept exactly as `python -m mixrender.rustgen` writes it
#[path = "params_gen.rs"]
mod params_gen;

pub use params_gen::{BANDS, INSERTS, TABLES};

/// One numeric key of an insert or band type, as `python/mixrender/schema.py` declares it
/// (the engine's copy is generated from there into `params_gen.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    /// Inclusive range; infinite where the declaration gives no bound.
    pub min: f64,
    pub max: f64,
    /// The upper bound as a fraction of the sample rate (infinite when none).
    pub max_fs: f64,
    /// The only values allowed, when not empty.
    pub choices: &'static [f64],
    /// A lane in the plan; otherwise a plain value fixed for the whole render.
    pub automatable: bool,
}

/// An insert or eq band type and its numeric keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableSpec {
    pub name: &'static str,
    pub params: &'static [ParamSpec],
}

/// The declaration of `key` in the table `table` of [`TABLES`].
fn declared(table: &str, key: &str) -> Option<&'static ParamSpec> {
    TableSpec::find(TABLES, table)?
        .params
        .iter()
        .find(|p| p.name == key)
}

impl TableSpec {
    /// The type named `name` in `table`.
    #[must_use]
    pub fn find(table: &'static [Self], name: &str) -> Option<&'static Self> {
        table.iter().find(|t| t.name == name)
    }
}

/// A numeric key of a planned insert: a lane, a fixed value, or off (JSON null).
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Lane(&'a Lane),
    Value(f64),
    Off,
}

impl<'a> From<&'a Option<Lane>> for Param<'a> {
    fn from(v: &'a Option<Lane>) -> Self {
        v.as_ref().map_or(Param::Off, Param::Lane)
    }
}

impl<'a> From<&'a Lane> for Param<'a> {
    fn from(v: &'a Lane) -> Self {
        Param::Lane(v)
    }
}

/// Checks `param` against its declaration `spec` (at `sample_rate`, when known).
fn check_param(
    spec: &ParamSpec,
    param: Param<'_>,
    sample_rate: Option<f64>,
) -> core::result::Result<(), String> {
    let name = spec.name;
    let values: &mut dyn Iterator<Item = f64> = match param {
        Param::Off => return Ok(()),
        Param::Lane(_) if !spec.automatable => {
            return Err(format!(
                "{name} cannot be automated: it is fixed for the render"
            ));
        }
        Param::Value(_) if spec.automatable => {
            return Err(format!("{name} must be a lane"));
        }
        Param::Lane(l) => &mut l.points.iter().map(|p| p.1),
        Param::Value(v) => &mut core::iter::once(v),
    };
    let hi = sample_rate.map_or(spec.max, |fs| spec.max.min(spec.max_fs * fs));
    for v in values {
        if !spec.choices.is_empty() {
            if !spec.choices.contains(&v) {
                return Err(format!("{name} {v} is not one of {:?}", spec.choices));
            }
        } else if !(spec.min..=hi).contains(&v) {
            return Err(format!("{name} {v} is not in {}..{hi}", spec.min));
        }
    }
    Ok(())
}

impl Band {
    /// The band's numeric key `name`, as the declaration names it.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Param<'_>> {
        Some(match name {
            "freq_hz" => (&self.freq_hz).into(),
            "gain_db" => (&self.gain_db).into(),
            "q" => (&self.q).into(),
            "slope_db_oct" => self
                .slope_db_oct
                .map_or(Param::Off, |s| Param::Value(s.into())),
            _ => return None,
        })
    }
}

impl Insert {
    /// The declaration of this insert's type (every planned type has one: a test checks it).
    #[must_use]
    pub fn spec(&self) -> Option<&'static TableSpec> {
        TableSpec::find(INSERTS, self.type_name())
    }

    /// Every automation lane of the insert, for the plan's lane checks: the lanes of the
    /// keys its declaration marks automatable (and its eq bands' lanes), in declaration order.
    #[must_use]
    pub fn lanes(&self) -> Vec<&Lane> {
        let mut lanes: Vec<&Lane> = Vec::new();
        if let Some(spec) = self.spec() {
            for p in spec.params.iter().filter(|p| p.automatable) {
                if let Some(Param::Lane(l)) = self.param(p.name) {
                    lanes.push(l);
                }
            }
        }
        if let Self::Eq(p) = self {
            for b in &p.bands {
                let Some(spec) = TableSpec::find(BANDS, b.kind.name()) else {
                    continue;
                };
                for k in spec.params.iter().filter(|k| k.automatable) {
                    if let Some(Param::Lane(l)) = b.param(k.name) {
                        lanes.push(l);
                    }
                }
                // The planner writes gain_db (0) for every band, declared or not.
                if spec.params.iter().all(|k| k.name != "gain_db") {
                    lanes.push(&b.gain_db);
                }
            }
        }
        lanes
    }

    /// Checks every numeric key against its declaration (range, allowed values, lane or
    /// fixed value), the structural keys of eq bands, and that no lane is empty.
    ///
    /// # Errors
    /// A message naming the insert and the key.
    pub fn check(&self) -> core::result::Result<(), String> {
        self.check_at(None)
    }

    /// [`Insert::check`], with the bounds that are a fraction of `sample_rate` when given.
    ///
    /// # Errors
    /// A message naming the insert and the key.
    pub fn check_at(&self, sample_rate: Option<f64>) -> core::result::Result<(), String> {
        if self.lanes().iter().any(|l| l.points.is_empty()) {
            return Err("empty automation lane".into());
        }
        let spec = self
            .spec()
            .ok_or_else(|| format!("insert type {} is not declared", self.type_name()))?;
        for p in spec.params {
            let param = self
                .param(p.name)
                .ok_or_else(|| format!("{} has no key {}", spec.name, p.name))?;
            check_param(p, param, sample_rate)?;
        }
        if let Self::Eq(p) = self {
            for (i, b) in p.bands.iter().enumerate() {
                let at = |what: &str| format!("bands.{}: {what}", i + 1);
                let pass = matches!(b.kind, BandType::Highpass | BandType::Lowpass);
                let spec = TableSpec::find(BANDS, b.kind.name())
                    .ok_or_else(|| at("band type not declared"))?;
                for k in spec.params {
                    let param = b.param(k.name).ok_or_else(|| at(k.name))?;
                    check_param(k, param, sample_rate).map_err(|e| at(&e))?;
                }
                if !pass && b.slope_db_oct.is_some() {
                    return Err(at("slope_db_oct on a band without slope"));
                }
                let slope = b.slope_db_oct.unwrap_or(12);
                if pass && slope != 12 && b.q.is_some() {
                    return Err(at(&format!("q is refused at {slope} dB/oct")));
                }
            }
        }
        Ok(())
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
        let fs = Some(f64::from(self.sample_rate));
        let checked = |table: &str, key: &str, param: Param<'_>| match declared(table, key) {
            Some(spec) => check_param(spec, param, fs),
            None => Err(format!("{table}.{key} is not declared")),
        };
        let value = |v: u32| Param::Value(f64::from(v));
        if let Err(reason) = checked("session", "sample_rate", value(self.sample_rate))
            .and_then(|()| checked("render", "bit_depth", value(self.output.bit_depth)))
        {
            return bad(reason);
        }
        if !self.master.loudness_gain_db.is_finite() {
            return bad("master loudness gain not finite".into());
        }
        let n = self.strips.len();
        let mut lanes: Vec<(&str, &Lane)> = vec![("master gain_db", &self.master.gain_db)];
        if let Err(reason) = checked("master", "gain_db", (&self.master.gain_db).into()) {
            return bad(format!("master: {reason}"));
        }
        for vca in &self.vcas {
            if let Err(reason) = checked("vca", "gain_db", (&vca.gain_db).into()) {
                return bad(format!("{}: {reason}", vca.name));
            }
            lanes.push((&vca.name, &vca.gain_db));
        }
        let inserts = self
            .strips
            .iter()
            .flat_map(|s| s.inserts.iter().map(move |i| (s.name.as_str(), i)))
            .chain(self.master.inserts.iter().map(|i| ("master", i)));
        for (owner, insert) in inserts {
            if let Err(reason) = insert.check_at(Some(f64::from(self.sample_rate))) {
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
            let keys = [
                ("gain_db", Param::Lane(&s.gain_db)),
                ("trim_db", Param::Lane(&s.trim_db)),
                ("pan", Param::Lane(&s.pan)),
                ("width", Param::Lane(&s.width)),
            ];
            let table = if s.source.is_some() { "track" } else { "bus" };
            for (key, param) in keys {
                if let Err(reason) = checked(table, key, param) {
                    return bad(format!("{}: {reason}", s.name));
                }
            }
            if s.source.is_some() {
                if let Err(reason) = checked("track", "clip_gain_db", Param::Value(s.clip_gain_db))
                {
                    return bad(format!("{}: {reason}", s.name));
                }
            }
            for send in &s.sends {
                if send.to >= n || self.strips[send.to].source.is_some() {
                    return bad(format!("{}: send to {} is not a bus", s.name, send.to));
                }
                for (key, lane) in [("level_db", &send.level_db), ("pan", &send.pan)] {
                    if let Err(reason) = checked("send", key, lane.into()) {
                        return bad(format!("{}: send to {}: {reason}", s.name, send.to));
                    }
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

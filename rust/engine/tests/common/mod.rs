//! Helpers shared by the engine's integration tests: plans from JSON, in-memory renders.
#![allow(dead_code, unreachable_pub)]
// Test signals only (inputs, never compared against the platform's libm): std's `sin` is fine.
#![allow(clippy::disallowed_methods)]

use mixrender_engine::{Engine, EngineConfig, ImpulseResponse, OutputBlock, Plan, SourceBlock};
use serde_json::{Value, json};

/// A static lane.
pub fn c(v: f64) -> Value {
    json!({"points": [[0, v, "linear", 0.0]]})
}

/// A lane from `(frame, value, shape)` points.
pub fn lane(points: &[(u64, f64, &str)]) -> Value {
    json!({"points": points.iter().map(|&(n, v, s)| json!([n, v, s, 0.0])).collect::<Vec<_>>()})
}

/// A track strip at unity, centre, to the master, with the given source.
pub fn track(name: &str, channels: usize, rate: u32, frames: u64, offset: u64) -> Value {
    json!({
        "name": name,
        "source": {"channels": channels, "sample_rate": rate, "frames": frames, "offset": offset},
        "clip_gain_db": 0.0, "polarity": false, "pan_law": "-3dB",
        "gain_db": c(0.0), "pan": c(0.0), "width": c(1.0), "mute": c(0.0),
        "solo_muted": false, "vcas": [], "output": "master", "sends": [], "inserts": [],
    })
}

pub fn bus(name: &str) -> Value {
    let mut b = track(name, 2, 48000, 0, 0);
    b["source"] = Value::Null;
    b
}

pub fn plan(strips: Vec<Value>, frames: u64) -> Value {
    json!({
        "version": 1, "sample_rate": 48000, "frames": frames, "strips": strips, "vcas": [],
        "master": {"gain_db": c(0.0), "inserts": []},
        "output": {"bit_depth": 32, "dither": false, "seed": 0},
    })
}

/// Renders `plan` with interleaved f32 `sources` (one per track), returning planar f64 L, R
/// (clipped, as the float output is).
pub fn render(plan: &Value, sources: &[Vec<f32>], block: usize, threads: usize) -> [Vec<f64>; 2] {
    render_with_irs(plan, Vec::new(), sources, block, threads)
}

/// [`render`] with impulse responses for the plan's convolution inserts.
pub fn render_with_irs(
    plan: &Value,
    irs: Vec<ImpulseResponse>,
    sources: &[Vec<f32>],
    block: usize,
    threads: usize,
) -> [Vec<f64>; 2] {
    render_as(plan, irs, sources, block, threads, false)
}

/// [`render_with_irs`]; with `stems`, the engine runs every block whole (not pipelined in
/// sub-blocks).
pub fn render_as(
    plan: &Value,
    irs: Vec<ImpulseResponse>,
    sources: &[Vec<f32>],
    block: usize,
    threads: usize,
    stems: bool,
) -> [Vec<f64>; 2] {
    let plan = Plan::from_json(plan.to_string().as_bytes()).expect("valid plan");
    let channels: Vec<usize> = plan
        .strips
        .iter()
        .filter_map(|s| s.source.as_ref().map(|src| src.channels))
        .collect();
    let config = EngineConfig {
        max_block: block,
        threads,
        stems,
    };
    let mut engine = Engine::with_impulse_responses(&plan, config, irs).expect("engine");
    let frames = usize::try_from(engine.frames()).unwrap();
    let mut read = vec![0usize; sources.len()];
    let mut wanted = vec![0usize; sources.len()];
    let mut out = vec![0.0f64; 2 * block];
    let (mut l, mut r) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
    let mut pos = 0;
    while pos < frames {
        let n = block.min(frames - pos);
        engine.source_frames_wanted(n, &mut wanted);
        let blocks: Vec<SourceBlock<'_>> = (0..sources.len())
            .map(|t| {
                let (a, b) = (read[t] * channels[t], (read[t] + wanted[t]) * channels[t]);
                read[t] += wanted[t];
                SourceBlock::F32(&sources[t][a..b])
            })
            .collect();
        engine.process_block(&blocks, n).unwrap();
        engine
            .write_output(OutputBlock::F64(&mut out[..2 * n]))
            .unwrap();
        for f in out[..2 * n].chunks_exact(2) {
            l.push(f[0]);
            r.push(f[1]);
        }
        pos += n;
    }
    [l, r]
}

/// A deterministic test signal in `[-0.5, 0.5]`: a few detuned sines and some noise.
pub fn signal(frames: usize, channels: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..frames * channels)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let t = (i / channels) as f32 / 48000.0;
            let noise = (state as f32 / u32::MAX as f32) - 0.5;
            0.2 * (t * 440.0 * std::f32::consts::TAU).sin()
                + 0.1 * (t * 97.0 * std::f32::consts::TAU + (i % channels) as f32).sin()
                + 0.1 * noise
        })
        .collect()
}

pub fn bits(x: &[Vec<f64>; 2]) -> Vec<u64> {
    x.iter()
        .flat_map(|c| c.iter().map(|v| v.to_bits()))
        .collect()
}

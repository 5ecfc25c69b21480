//! Helpers for the channel-strip processor tests: inserts from plan JSON, block-wise runs,
//! test signals, dB and tolerance reporting.
#![allow(dead_code, unreachable_pub)]

use mixrender_engine::dsp::{AudioBlock, Sidechain, Slot};
use mixrender_engine::math;
use mixrender_engine::plan::Insert;
use serde_json::{Value, json};

/// A static lane.
pub fn c(v: f64) -> Value {
    json!({"points": [[0, v, "linear", 0.0]]})
}

/// A lane from `(frame, value, shape)` points.
pub fn lane(points: &[(u64, f64, &str)]) -> Value {
    json!({"points": points.iter().map(|&(n, v, s)| json!([n, v, s, 0.0])).collect::<Vec<_>>()})
}

/// Parses an insert from its plan JSON and builds its slot, prepared at `fs`.
pub fn slot(insert: &Value, fs: f64, max_block: usize) -> Slot {
    let insert: Insert = serde_json::from_value(insert.clone()).expect("valid insert JSON");
    insert.check().expect("insert passes its checks");
    let mut s = Slot::from_plan(&insert);
    s.processor.prepare(fs, max_block);
    s
}

/// The compressor's plan JSON with the spec's defaults; `over` replaces keys.
pub fn compressor(over: &Value) -> Value {
    merge(
        json!({"type": "compressor", "name": "comp", "bypass": false,
            "threshold_db": c(-20.0), "ratio": c(4.0), "knee_db": c(0.0),
            "attack_ms": c(10.0), "release_ms": c(100.0), "makeup_db": c(0.0),
            "detector": "peak", "rms_ms": c(10.0), "sidechain": null,
            "sidechain_hpf_hz": null, "stereo_link": true, "mix": c(1.0)}),
        over,
    )
}

pub fn gate(over: &Value) -> Value {
    merge(
        json!({"type": "gate", "name": "gate", "bypass": false,
            "threshold_db": c(-50.0), "range_db": c(-80.0), "attack_ms": c(1.0),
            "hold_ms": c(20.0), "release_ms": c(100.0), "sidechain": null}),
        over,
    )
}

pub fn limiter(over: &Value) -> Value {
    merge(
        json!({"type": "limiter", "name": "lim", "bypass": false,
            "ceiling_db": c(-1.0), "release_ms": c(50.0), "lookahead_ms": 5.0,
            "true_peak": false}),
        over,
    )
}

pub fn deesser(over: &Value) -> Value {
    merge(
        json!({"type": "deesser", "name": "ds", "bypass": false,
            "freq_hz": c(6500.0), "threshold_db": c(-30.0), "range_db": c(-12.0),
            "split": true}),
        over,
    )
}

pub fn saturation(over: &Value) -> Value {
    merge(
        json!({"type": "saturation", "name": "sat", "bypass": false,
            "drive_db": c(6.0), "shape": "tanh", "oversample": 8, "output_db": c(0.0),
            "mix": c(1.0)}),
        over,
    )
}

/// An EQ with the given bands.
pub fn eq(bands: &Value) -> Value {
    json!({"type": "eq", "name": "eq", "bypass": false, "bands": bands})
}

/// One band; `q` and `slope` null when `None`.
pub fn band(kind: &str, freq: f64, gain: f64, q: Option<f64>, slope: Option<u32>) -> Value {
    json!({"type": kind, "freq_hz": c(freq), "gain_db": c(gain),
        "q": q.map(c), "slope_db_oct": slope})
}

fn merge(mut base: Value, over: &Value) -> Value {
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Runs `slot` over `[left, right]` (right ignored when `channels == 1`) in blocks of
/// `block` frames, the first at timeline frame `start`, with an optional key signal.
pub fn run(
    slot: &mut Slot,
    start: i64,
    block: usize,
    channels: usize,
    input: [&[f64]; 2],
    key: Option<[&[f64]; 2]>,
) -> [Vec<f64>; 2] {
    let mut l = input[0].to_vec();
    let mut r = if channels == 2 {
        input[1].to_vec()
    } else {
        vec![0.0; l.len()]
    };
    let mut pos = 0;
    while pos < l.len() {
        let n = block.min(l.len() - pos);
        let sidechain = key.map(|k| Sidechain {
            channels: 2,
            left: &k[0][pos..pos + n],
            right: &k[1][pos..pos + n],
        });
        let mut b = AudioBlock {
            start: start + pos as i64,
            channels,
            left: &mut l[pos..pos + n],
            right: &mut r[pos..pos + n],
            sidechain,
        };
        slot.process(&mut b);
        pos += n;
    }
    [l, r]
}

/// Mono convenience: runs one channel.
pub fn run_mono(slot: &mut Slot, x: &[f64], block: usize) -> Vec<f64> {
    let [l, _] = run(slot, 0, block, 1, [x, x], None);
    l
}

/// Stereo convenience, in blocks of 4096 from frame 0.
pub fn run_stereo(slot: &mut Slot, l: &[f64], r: &[f64]) -> [Vec<f64>; 2] {
    run(slot, 0, 4096, 2, [l, r], None)
}

pub fn db(x: f64) -> f64 {
    20.0 * math::log10(x)
}

pub fn sine(freq: f64, fs: f64, amp: f64, frames: usize) -> Vec<f64> {
    (0..frames)
        .map(|i| amp * math::sin(core::f64::consts::TAU * freq * i as f64 / fs))
        .collect()
}

/// White noise in `[-1, 1)` from a xorshift generator.
pub fn noise(frames: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// A test signal with everything a processor might trip on: tones, noise, bursts, silence.
pub fn program(frames: usize, fs: f64, seed: u64) -> [Vec<f64>; 2] {
    let n = noise(2 * frames, seed);
    let mut l = Vec::with_capacity(frames);
    let mut r = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = i as f64 / fs;
        let burst = if (i / 1500) % 3 == 0 { 0.9 } else { 0.05 };
        let tone = 0.3 * math::sin(core::f64::consts::TAU * 220.0 * t)
            + 0.2 * math::sin(core::f64::consts::TAU * 7000.0 * t);
        let silent = (i / 700) % 7 == 6;
        let g = if silent { 0.0 } else { burst };
        l.push(g * (tone + 0.3 * n[2 * i]));
        r.push(g * (0.7 * tone + 0.3 * n[2 * i + 1]));
    }
    [l, r]
}

/// Asserts `|measured - expected| <= tol` with a message that says how wrong.
#[track_caller]
pub fn assert_close(what: &str, measured: f64, expected: f64, tol: f64) {
    assert!(
        (measured - expected).abs() <= tol,
        "{what}: measured {measured:.6}, expected {expected:.6}, error {:.3e} > tolerance {tol:e}",
        (measured - expected).abs()
    );
}

/// The bits of both channels, for bit-exact comparisons.
pub fn bits(x: &[Vec<f64>; 2]) -> Vec<u64> {
    x.iter()
        .flat_map(|c| c.iter().map(|v| v.to_bits()))
        .collect()
}

/// Runs `s` over `[l, r]` (mono when `channels` is 1) in blocks of `block` from timeline
/// frame `start`; returns the output and the channel count the insert left.
pub fn run_channels(
    s: &mut Slot,
    start: i64,
    block: usize,
    channels: usize,
    x: [&[f64]; 2],
) -> ([Vec<f64>; 2], usize) {
    let mut l = x[0].to_vec();
    let mut r = if channels == 2 {
        x[1].to_vec()
    } else {
        vec![0.0; l.len()]
    };
    let mut out_channels = channels;
    let mut pos = 0;
    while pos < l.len() {
        let n = block.min(l.len() - pos);
        let mut b = AudioBlock {
            start: start + pos as i64,
            channels,
            left: &mut l[pos..pos + n],
            right: &mut r[pos..pos + n],
            sidechain: None,
        };
        s.process(&mut b);
        out_channels = b.channels;
        pos += n;
    }
    ([l, r], out_channels)
}

//! The channel strip's cost: each processor in nanoseconds per stereo sample, and a full
//! strip (EQ with 4 bands + compressor) as x real time, on one core.
//!
//! `cargo bench -p mixrender-engine --bench strip`. Each figure is the median (and the
//! fastest) of 7 runs over 10 s of stereo programme at 48 kHz in blocks of 1024 frames;
//! the load average is printed with them, since a busy machine inflates the medians.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the clock; nothing here reaches an output"
)]

use std::hint::black_box;
use std::time::Instant;

use mixrender_engine::dsp::{AudioBlock, Slot};
use mixrender_engine::math;
use mixrender_engine::plan::Insert;
use serde_json::{Value, json};

const FS: f64 = 48000.0;
const SECONDS: usize = 10;
const BLOCK: usize = 1024;
const RUNS: usize = 7;

fn c(v: f64) -> Value {
    json!({"points": [[0, v, "linear", 0.0]]})
}

fn band(kind: &str, f: f64, g: f64, q: Option<f64>, slope: Option<u32>) -> Value {
    json!({"type": kind, "freq_hz": c(f), "gain_db": c(g), "q": q.map(c), "slope_db_oct": slope})
}

fn eq4() -> Value {
    json!({"type": "eq", "name": "eq", "bypass": false, "bands": [
        band("highpass", 80.0, 0.0, Some(core::f64::consts::FRAC_1_SQRT_2), Some(12)),
        band("bell", 350.0, -3.0, Some(1.2), None),
        band("bell", 3200.0, 2.5, Some(1.4), None),
        band("highshelf", 10000.0, 1.5, Some(0.707), None),
    ]})
}

fn compressor(detector: &str) -> Value {
    json!({"type": "compressor", "name": "comp", "bypass": false,
        "threshold_db": c(-18.0), "ratio": c(3.0), "knee_db": c(6.0), "attack_ms": c(10.0),
        "release_ms": c(120.0), "makeup_db": c(2.0), "detector": detector, "rms_ms": c(10.0),
        "sidechain": null, "sidechain_hpf_hz": null, "stereo_link": true, "mix": c(1.0)})
}

fn cases() -> Vec<(&'static str, Vec<Value>)> {
    let limiter = |tp: bool| {
        json!({"type": "limiter", "name": "lim", "bypass": false, "ceiling_db": c(-1.0),
            "release_ms": c(50.0), "lookahead_ms": 5.0, "true_peak": tp})
    };
    let saturation = |os: u32, shape: &str| {
        json!({"type": "saturation", "name": "sat", "bypass": false, "drive_db": c(12.0),
            "shape": shape, "oversample": os, "output_db": c(-6.0), "mix": c(1.0)})
    };
    vec![
        (
            "gain",
            vec![
                json!({"type": "gain", "name": "g", "bypass": false, "gain_db": c(-3.0),
                "polarity": false}),
            ],
        ),
        (
            "width",
            vec![
                json!({"type": "width", "name": "w", "bypass": false, "width": c(1.3),
                "mono_below_hz": null}),
            ],
        ),
        ("eq, 4 bands", vec![eq4()]),
        (
            "eq, 48 dB/oct high-pass",
            vec![json!({"type": "eq", "name": "eq", "bypass": false,
                "bands": [band("highpass", 40.0, 0.0, None, Some(48))]})],
        ),
        ("compressor, peak", vec![compressor("peak")]),
        ("compressor, rms", vec![compressor("rms")]),
        (
            "gate",
            vec![json!({"type": "gate", "name": "gate", "bypass": false,
                "threshold_db": c(-30.0), "range_db": c(-80.0), "attack_ms": c(1.0),
                "hold_ms": c(20.0), "release_ms": c(100.0), "sidechain": null})],
        ),
        ("limiter, sample peak", vec![limiter(false)]),
        ("limiter, true peak", vec![limiter(true)]),
        (
            "deesser, split",
            vec![json!({"type": "deesser", "name": "ds", "bypass": false,
                "freq_hz": c(6500.0), "threshold_db": c(-30.0), "range_db": c(-12.0),
                "split": true})],
        ),
        ("saturation, tanh 1x", vec![saturation(1, "tanh")]),
        ("saturation, tanh 8x", vec![saturation(8, "tanh")]),
        ("saturation, soft 8x", vec![saturation(8, "soft")]),
        ("saturation, tanh 16x", vec![saturation(16, "tanh")]),
        (
            "strip: eq (4 bands) + compressor",
            vec![eq4(), compressor("peak")],
        ),
    ]
}

/// Stereo programme: tones, noise and level changes.
fn programme(frames: usize) -> [Vec<f64>; 2] {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut noise = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    let mut l = Vec::with_capacity(frames);
    let mut r = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = i as f64 / FS;
        let env = if (i / 12000) % 2 == 0 { 0.8 } else { 0.1 };
        let tone = math::sin(core::f64::consts::TAU * 110.0 * t)
            + 0.5 * math::sin(core::f64::consts::TAU * 2500.0 * t);
        l.push(env * (0.5 * tone + 0.2 * noise()));
        r.push(env * (0.4 * tone + 0.2 * noise()));
    }
    [l, r]
}

fn main() {
    let frames = SECONDS * FS as usize;
    let [l, r] = programme(frames);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "channel strip, {SECONDS} s stereo at {FS} Hz, blocks of {BLOCK}, {RUNS} runs; \
         load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:36} {:>12} {:>12} {:>14}",
        "processor", "ns/sample", "(fastest)", "x real time"
    );
    for (what, inserts) in cases() {
        let mut slots: Vec<Slot> = inserts
            .iter()
            .map(|v| {
                let insert: Insert = serde_json::from_value(v.clone()).expect("valid insert");
                let mut s = Slot::from_plan(&insert);
                s.processor.prepare(FS, BLOCK);
                s
            })
            .collect();
        let mut times = Vec::with_capacity(RUNS);
        let (mut bl, mut br) = (l.clone(), r.clone());
        for _ in 0..RUNS {
            bl.copy_from_slice(&l);
            br.copy_from_slice(&r);
            for s in &mut slots {
                s.processor.reset();
            }
            let t0 = Instant::now();
            for (k, (cl, cr)) in bl.chunks_mut(BLOCK).zip(br.chunks_mut(BLOCK)).enumerate() {
                let mut block = AudioBlock {
                    start: (k * BLOCK) as i64,
                    channels: 2,
                    left: cl,
                    right: cr,
                    sidechain: None,
                };
                for s in &mut slots {
                    s.process(&mut block);
                }
            }
            times.push(t0.elapsed().as_secs_f64());
            black_box(&bl);
        }
        times.sort_by(f64::total_cmp);
        let t = times[RUNS / 2];
        let ns = t * 1e9 / frames as f64;
        let fastest = times[0] * 1e9 / frames as f64;
        let realtime = SECONDS as f64 / t;
        println!("{what:36} {ns:12.1} {fastest:12.1} {realtime:14.0}");
    }
}

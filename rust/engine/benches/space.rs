//! The space effects' cost: the `delay` (plain, ping-pong, with loop filters, with its time
//! automated so that it glides) and the `reverb` (static, and with its size automated so
//! that the 16 lines glide), in nanoseconds per stereo sample and as x real time, on one
//! core.
//!
//! `cargo bench -p mixrender-engine --bench space`. Each figure is the median (and the
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

/// A lane that moves every second between `a` and `b` (linear ramps of 0.25 s).
fn moving(a: f64, b: f64) -> Value {
    let points: Vec<Value> = (0..SECONDS as u64)
        .flat_map(|s| {
            let (from, to) = if s % 2 == 0 { (a, b) } else { (b, a) };
            let n = s * FS as u64;
            [
                json!([n, from, "linear", 0.0]),
                json!([n + 12_000, to, "linear", 0.0]),
            ]
        })
        .collect();
    json!({ "points": points })
}

fn delay(time: Value, ping_pong: bool, filters: bool) -> Value {
    let (lo, hi) = if filters {
        (c(150.0), c(6000.0))
    } else {
        (Value::Null, Value::Null)
    };
    json!({"type": "delay", "name": "dly", "bypass": false, "time_ms": time,
        "feedback": c(0.4), "ping_pong": ping_pong, "lowcut_hz": lo, "highcut_hz": hi,
        "mix": c(1.0)})
}

fn reverb(size: Value) -> Value {
    json!({"type": "reverb", "name": "verb", "bypass": false, "decay_s": c(1.8),
        "predelay_ms": c(20.0), "size": size, "damping_hz": c(8000.0), "width": c(1.0),
        "mix": c(1.0)})
}

fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("delay, 375 ms", delay(c(375.0), false, false)),
        (
            "delay, ping-pong, loop filters",
            delay(c(375.0), true, true),
        ),
        (
            "delay, time gliding",
            delay(moving(250.0, 375.0), false, true),
        ),
        ("reverb, 1.8 s", reverb(c(0.5))),
        ("reverb, size gliding", reverb(moving(0.3, 0.8))),
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
        "space effects, {SECONDS} s stereo at {FS} Hz, blocks of {BLOCK}, {RUNS} runs; \
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
    for (what, insert) in cases() {
        let insert: Insert = serde_json::from_value(insert).expect("valid insert");
        let mut slot = Slot::from_plan(&insert);
        slot.processor.prepare(FS, BLOCK);
        let mut times = Vec::with_capacity(RUNS);
        let (mut bl, mut br) = (l.clone(), r.clone());
        for _ in 0..RUNS {
            bl.copy_from_slice(&l);
            br.copy_from_slice(&r);
            slot.processor.reset();
            let t0 = Instant::now();
            for (k, (cl, cr)) in bl.chunks_mut(BLOCK).zip(br.chunks_mut(BLOCK)).enumerate() {
                let mut block = AudioBlock {
                    start: (k * BLOCK) as i64,
                    channels: 2,
                    left: cl,
                    right: cr,
                    sidechain: None,
                };
                slot.process(&mut block);
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

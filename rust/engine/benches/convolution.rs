//! The `convolution` insert's cost: a 3-second stereo impulse response at 48 kHz on stereo
//! programme, as x real time on one core (the benchmark).
//!
//! `cargo bench -p mixrender-engine --bench convolution`. Each figure is the median (and
//! the fastest) of 7 runs over 20 s of stereo programme at 48 kHz in blocks of 1024 frames,
//! with the load average, since a busy machine inflates the medians. Set-up (partitioning
//! and transforming the response) is timed apart: it happens once per render.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the clock; nothing here reaches an output"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use mixrender_engine::dsp::convolution::{DEFAULT_HEAD, DEFAULT_MAX_PARTITION};
use mixrender_engine::dsp::{AudioBlock, Convolution, Convolver, ImpulseResponse, Processor};
use mixrender_engine::math;
use mixrender_engine::plan::ConvolutionParams;
use serde_json::json;

const FS: f64 = 48000.0;
const SECONDS: usize = 20;
const IR_SECONDS: usize = 3;
const BLOCK: usize = 1024;
const RUNS: usize = 7;

/// A small xorshift generator in `[-1, 1)`.
fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A synthetic hall: decorrelated noise under a 3 s exponential decay (RT60 about 2.5 s).
fn hall(frames: usize) -> ImpulseResponse {
    let mut n = noise(0x9E37_79B9_7F4A_7C15);
    let mut samples = Vec::with_capacity(2 * frames);
    for i in 0..frames {
        let env = math::exp(-6.9 * i as f64 / (2.5 * FS));
        samples.push(0.3 * env * n());
        samples.push(0.3 * env * n());
    }
    ImpulseResponse {
        channels: 2,
        sample_rate: 48000,
        samples,
    }
}

/// Stereo programme: tones, noise and level changes.
fn programme(frames: usize) -> [Vec<f64>; 2] {
    let mut n = noise(0x2545_F491_4F6C_DD1D);
    let mut l = Vec::with_capacity(frames);
    let mut r = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = i as f64 / FS;
        let env = if (i / 12000) % 2 == 0 { 0.8 } else { 0.1 };
        let tone = math::sin(core::f64::consts::TAU * 110.0 * t)
            + 0.5 * math::sin(core::f64::consts::TAU * 2500.0 * t);
        l.push(env * (0.5 * tone + 0.2 * n()));
        r.push(env * (0.4 * tone + 0.2 * n()));
    }
    [l, r]
}

fn params() -> ConvolutionParams {
    let c = |v: f64| json!({"points": [[0, v, "linear", 0.0]]});
    serde_json::from_value(json!({"name": "hall", "bypass": false, "ir": 0,
        "predelay_ms": c(20.0), "gain_db": c(-3.0), "mix": c(0.3)}))
    .expect("valid convolution params")
}

fn main() {
    let frames = SECONDS * FS as usize;
    let [l, r] = programme(frames);
    let ir = Arc::new(hall(IR_SECONDS * FS as usize));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "convolution, {IR_SECONDS} s stereo IR on {SECONDS} s stereo at {FS} Hz, blocks of \
         {BLOCK}, {RUNS} runs, one core; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let planar = ir.planar();
    let t0 = Instant::now();
    let conv = Convolver::new(&planar, DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
    let setup = t0.elapsed().as_secs_f64();
    println!(
        "partitioning: head {DEFAULT_HEAD} taps, levels (size x partitions) {:?}; set-up {:.1} ms",
        conv.levels(),
        setup * 1e3
    );
    println!(
        "{:36} {:>12} {:>12} {:>14}",
        "case", "ns/frame", "(fastest)", "x real time"
    );
    let cases: [(&str, usize, usize); 4] = [
        (
            "insert, the engine's partitioning",
            DEFAULT_HEAD,
            DEFAULT_MAX_PARTITION,
        ),
        ("insert, head 64", 64, DEFAULT_MAX_PARTITION),
        ("insert, head 128", 128, DEFAULT_MAX_PARTITION),
        ("insert, partitions up to 4096", DEFAULT_HEAD, 4096),
    ];
    for (what, head, max) in cases {
        let mut insert = Convolution::with_partitions(&params(), Arc::clone(&ir), head, max);
        insert.prepare(FS, BLOCK);
        let mut times = Vec::with_capacity(RUNS);
        let (mut bl, mut br) = (l.clone(), r.clone());
        for _ in 0..RUNS {
            bl.copy_from_slice(&l);
            br.copy_from_slice(&r);
            insert.reset();
            let t0 = Instant::now();
            for (k, (cl, cr)) in bl.chunks_mut(BLOCK).zip(br.chunks_mut(BLOCK)).enumerate() {
                let mut block = AudioBlock {
                    start: (k * BLOCK) as i64,
                    channels: 2,
                    left: cl,
                    right: cr,
                    sidechain: None,
                };
                insert.process(&mut block);
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

//! What the processor benchmarks share: the programme they process, the timing loop and
//! the table they print. Each figure is the median (and the fastest) of `RUNS` runs over
//! `SECONDS` of stereo programme at 48 kHz in blocks of `BLOCK` frames, on one core; the
//! load average is printed with them, since a busy machine inflates the medians.
#![allow(dead_code, reason = "each benchmark uses the part it needs")]

use std::hint::black_box;
use std::time::Instant;

use mixrender_engine::dsp::AudioBlock;
use mixrender_engine::math;
use serde_json::{Value, json};

pub(crate) const FS: f64 = 48000.0;
pub(crate) const SECONDS: usize = 10;
pub(crate) const BLOCK: usize = 1024;
pub(crate) const RUNS: usize = 7;

/// A static lane.
pub(crate) fn c(v: f64) -> Value {
    json!({"points": [[0, v, "linear", 0.0]]})
}

/// A deterministic noise source in `[-1, 1)`.
pub(crate) fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Stereo programme: tones, noise and level changes.
pub(crate) fn programme(frames: usize) -> [Vec<f64>; 2] {
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

/// Prints the title line (with the load average) and the table's header.
pub(crate) fn header(title: &str, unit: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "{title}, {SECONDS} s stereo at {FS} Hz, blocks of {BLOCK}, {RUNS} runs; load average {load}"
    );
    println!(
        "{:36} {:>12} {:>12} {:>14}",
        "case", unit, "(fastest)", "x real time"
    );
}

/// Times `process` (called per block, after `reset` per run) over the programme and prints
/// its line of the table.
pub(crate) fn time(
    what: &str,
    programme: &[Vec<f64>; 2],
    reset: impl FnMut(),
    process: impl FnMut(&mut AudioBlock<'_>),
) {
    time_channels(what, programme, 2, reset, process);
}

/// [`time`] with blocks of `channels` (1: the left channel alone, in ns per mono sample).
pub(crate) fn time_channels(
    what: &str,
    [l, r]: &[Vec<f64>; 2],
    channels: usize,
    mut reset: impl FnMut(),
    mut process: impl FnMut(&mut AudioBlock<'_>),
) {
    let frames = l.len();
    let mut times = Vec::with_capacity(RUNS);
    let (mut bl, mut br) = (l.clone(), r.clone());
    for _ in 0..RUNS {
        bl.copy_from_slice(l);
        br.copy_from_slice(r);
        reset();
        let t0 = Instant::now();
        for (k, (cl, cr)) in bl.chunks_mut(BLOCK).zip(br.chunks_mut(BLOCK)).enumerate() {
            let mut block = AudioBlock {
                start: (k * BLOCK) as i64,
                channels,
                left: cl,
                right: cr,
                sidechain: None,
            };
            process(&mut block);
        }
        times.push(t0.elapsed().as_secs_f64());
        black_box(&bl);
    }
    times.sort_by(f64::total_cmp);
    let t = times[RUNS / 2];
    let ns = t * 1e9 / frames as f64;
    let fastest = times[0] * 1e9 / frames as f64;
    let realtime = frames as f64 / FS / t;
    println!("{what:36} {ns:12.1} {fastest:12.1} {realtime:14.0}");
}

//! The `convolution` insert against the mix-format spec: `(1 - mix) · dry + mix · gain ·
//! (h * x)` with the wet path delayed by `round(predelay_ms · fs / 1000)` frames, the
//! response used as it is. The reference is a direct (time-domain) convolution computed
//! plainly here; the partitioned FFT convolver must match it to 1e-9 of the reference's
//! peak, for every combination of mono and stereo signal and response, with predelay,
//! gain and mix, at small partitions (every level and level change on short responses)
//! and at the engine's own. Then: block sizes never change a bit and `reset` repeats,
//! nothing allocates, and through an engine plan the insert adds no latency, resampled
//! responses keep their level, and a missing response is a plan error.

mod common;
mod dsp_util;

use std::sync::Arc;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use dsp_util::{bits, c, lane, program, run};
use mixrender_engine::dsp::convolution::{DEFAULT_HEAD, DEFAULT_MAX_PARTITION};
use mixrender_engine::dsp::{AudioBlock, Convolution, Convolver, ImpulseResponse, Slot};
use mixrender_engine::math;
use mixrender_engine::plan::ConvolutionParams;
use mixrender_engine::{Engine, EngineConfig, EngineError, Plan};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

const FS: f64 = 48000.0;

fn params(over: &Value) -> ConvolutionParams {
    let mut p = json!({"type": "convolution", "name": "conv", "bypass": false, "ir": 0,
        "predelay_ms": c(0.0), "gain_db": c(0.0), "mix": c(1.0)});
    for (k, v) in over.as_object().expect("an object") {
        p[k] = v.clone();
    }
    p.as_object_mut().expect("an object").remove("type");
    serde_json::from_value(p).expect("valid convolution params")
}

/// A decaying noise response of `frames` frames and `channels` channels, interleaved.
fn response(frames: usize, channels: usize, seed: u64) -> ImpulseResponse {
    let n = dsp_util::noise(frames * channels, seed);
    let samples = n
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let t = (i / channels) as f64;
            0.5 * v * math::exp(-4.0 * t / frames as f64)
        })
        .collect();
    ImpulseResponse {
        channels,
        sample_rate: 48000,
        samples,
    }
}

fn slot(p: &ConvolutionParams, ir: &ImpulseResponse, head: usize, max: usize) -> Slot {
    let mut conv = Convolution::with_partitions(p, Arc::new(ir.clone()), head, max);
    mixrender_engine::dsp::Processor::prepare(&mut conv, FS, 4096);
    Slot {
        name: p.name.clone(),
        bypass: p.bypass,
        sidechain: None,
        processor: Box::new(conv),
    }
}

/// `h * x`, computed plainly: `y[t] = Σ_m h[m] x[t - m]`.
fn convolve(h: &[f64], x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            let taps = h.len().min(t + 1);
            (0..taps).map(|m| h[m] * x[t - m]).sum()
        })
        .collect()
}

/// The spec's formula, computed directly. The predelay delays the response's input, read
/// on the control grid at the frame a sample enters (as the insert documents); per output
/// channel `o`, the input and response channels are those the module documents (a mono
/// response on both channels, a stereo response on a mono signal makes stereo, stereo on
/// stereo is L->L, R->R).
fn direct(
    p: &ConvolutionParams,
    ir: &ImpulseResponse,
    x: [&[f64]; 2],
    inputs: usize,
) -> [Vec<f64>; 2] {
    let h = ir.planar();
    let n = x[0].len();
    let delayed: Vec<Vec<f64>> = x
        .iter()
        .map(|x| {
            (0..n)
                .map(|t| {
                    let ms = p.predelay_ms.value_at((t - t % 32) as i64);
                    let delay = (ms * FS / 1000.0).round() as usize;
                    t.checked_sub(delay).map_or(0.0, |s| x[s])
                })
                .collect()
        })
        .collect();
    let outputs = inputs.max(ir.channels);
    let mut y = [vec![0.0; n], vec![0.0; n]];
    for (o, out) in y.iter_mut().enumerate().take(outputs) {
        let i = if inputs == 2 { o } else { 0 };
        let k = if ir.channels == 2 { o } else { 0 };
        let wet = convolve(&h[k], &delayed[i]);
        for (t, v) in out.iter_mut().enumerate() {
            let g = math::pow(10.0, p.gain_db.value_at(t as i64) / 20.0);
            let mix = p.mix.value_at(t as i64);
            *v = (1.0 - mix) * x[i][t] + mix * g * wet[t];
        }
    }
    y
}

/// `max |a - b| / max |b|` over both channels.
fn relative_error(a: &[Vec<f64>; 2], b: &[Vec<f64>; 2]) -> f64 {
    let peak = b.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    err / peak
}

fn matches_direct(head: usize, max: usize, ir_frames: usize, frames: usize) -> f64 {
    let [l, r] = program(frames, FS, 3);
    let cases = [
        json!({}),
        json!({"predelay_ms": c(7.3), "gain_db": c(-4.5), "mix": c(0.35)}),
        json!({"gain_db": lane(&[(0, -6.0, "linear"), (frames as u64, 3.0, "linear")]),
            "mix": lane(&[(0, 1.0, "linear"), (frames as u64 / 2, 0.2, "smooth")]),
            "predelay_ms": lane(&[(0, 1.0, "linear"), (1000, 9.0, "step"), (3000, 2.5, "linear")])}),
    ];
    let mut worst = 0.0f64;
    for over in &cases {
        let p = params(over);
        for ir_channels in [1, 2] {
            let ir = response(ir_frames, ir_channels, 7 + ir_channels as u64);
            for inputs in [1, 2] {
                let mut s = slot(&p, &ir, head, max);
                // A mono result leaves the right channel as `run` made it: zeros.
                let got = run(&mut s, 0, 1000, inputs, [&l, &r], None);
                let want = direct(&p, &ir, [&l, &r], inputs);
                let e = relative_error(&got, &want);
                assert!(
                    e < 1e-9,
                    "head {head}, max {max}, {ir_frames}-frame {ir_channels}-channel response \
                     on {inputs} channel(s), {over}: relative error {e:.3e} >= 1e-9"
                );
                worst = worst.max(e);
            }
        }
    }
    worst
}

#[test]
fn equals_a_direct_convolution_at_small_partitions() {
    // Head 2, levels of 2, 16 and 128 taps (the last with 11 partitions): every level and
    // every change of level on a short response.
    let conv = Convolver::new(&response(1500, 1, 1).planar(), 2, 128);
    assert_eq!(conv.levels(), vec![(2, 7), (16, 7), (128, 11)]);
    let e = matches_direct(2, 128, 1500, 4000);
    eprintln!("small partitions: max relative error {e:.2e}");
}

#[test]
fn equals_a_direct_convolution_at_the_engines_partitions() {
    let conv = Convolver::new(
        &response(2500, 1, 1).planar(),
        DEFAULT_HEAD,
        DEFAULT_MAX_PARTITION,
    );
    assert_eq!(conv.levels(), vec![(32, 7), (256, 7), (2048, 1)]);
    let e = matches_direct(DEFAULT_HEAD, DEFAULT_MAX_PARTITION, 2500, 5000);
    eprintln!("engine partitions: max relative error {e:.2e}");
}

#[test]
fn responses_shorter_than_the_head_and_empty_ones() {
    let [l, r] = program(600, FS, 5);
    for frames in [0, 1, 5, 31, 32, 33] {
        let ir = response(frames, 2, 9);
        let p = params(&json!({"mix": c(0.5)}));
        let mut s = slot(&p, &ir, DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
        let got = run(&mut s, 0, 64, 2, [&l, &r], None);
        let want = direct(&p, &ir, [&l, &r], 2);
        let e = relative_error(&got, &want);
        assert!(e < 1e-12, "{frames}-frame response: relative error {e:.3e}");
    }
}

#[test]
fn block_size_never_changes_a_bit_and_reset_repeats() {
    let frames = 12000;
    let [l, r] = program(frames, FS, 11);
    let p = params(&json!({
        "predelay_ms": lane(&[(0, 0.0, "linear"), (3000, 12.0, "step"), (7000, 3.3, "linear")]),
        "gain_db": lane(&[(0, 0.0, "linear"), (9000, -9.0, "smooth")]),
        "mix": lane(&[(0, 0.7, "linear"), (6000, 1.0, "linear")]),
    }));
    for (ir_channels, inputs) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
        let ir = response(3000, ir_channels, 2);
        let mut s = slot(&p, &ir, DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
        let reference = run(&mut s, -37, 4096, inputs, [&l, &r], None);
        for block in [1, 7, 64, 4096] {
            s.processor.reset();
            let got = run(&mut s, -37, block, inputs, [&l, &r], None);
            assert_eq!(
                bits(&got),
                bits(&reference),
                "{ir_channels}-channel response on {inputs} channel(s): block {block} differs"
            );
        }
    }
}

#[test]
fn a_mono_signal_through_a_stereo_response_becomes_stereo_and_bypass_keeps_it_mono() {
    let ir = response(100, 2, 4);
    let x = dsp_util::noise(256, 1);
    for bypass in [false, true] {
        let p = params(&json!({"bypass": bypass}));
        let mut s = slot(&p, &ir, DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
        let (mut l, mut r) = (x.clone(), vec![0.0; x.len()]);
        let mut b = AudioBlock {
            start: 0,
            channels: 1,
            left: &mut l,
            right: &mut r,
            sidechain: None,
        };
        s.process(&mut b);
        if bypass {
            assert_eq!(b.channels, 1);
            assert_eq!(l, x, "bypassed: the signal passes unchanged");
        } else {
            assert_eq!(b.channels, 2);
            assert!(r.iter().any(|&v| v != 0.0) && l != r);
        }
    }
}

#[test]
fn processing_and_reset_do_not_allocate() {
    let [l, r] = program(6000, FS, 1);
    let p = params(&json!({
        "predelay_ms": lane(&[(0, 2.0, "linear"), (3000, 20.0, "linear")]),
        "gain_db": lane(&[(0, 0.0, "linear"), (4000, -6.0, "linear")]),
        "mix": lane(&[(0, 1.0, "linear"), (5000, 0.5, "linear")]),
    }));
    for (ir_channels, inputs) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
        let ir = response(40000, ir_channels, 3);
        let mut s = slot(&p, &ir, DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
        let (mut bl, mut br) = (l.clone(), r.clone());
        let mut pos = 0;
        for block in [1, 7, 1024, 333, 4096].iter().cycle() {
            if pos + block > bl.len() {
                break;
            }
            let end = pos + block;
            let mut b = AudioBlock {
                start: pos as i64 - 5,
                channels: inputs,
                left: &mut bl[pos..end],
                right: &mut br[pos..end],
                sidechain: None,
            };
            assert_no_alloc(|| s.process(&mut b));
            pos = end;
        }
        assert_no_alloc(|| s.processor.reset());
    }
}

// --- through the engine ----------------------------------------------------------------------

fn convolution_insert(ir: usize, mix: f64) -> Value {
    json!({"type": "convolution", "name": "conv", "bypass": false, "ir": ir,
        "predelay_ms": c(0.0), "gain_db": c(0.0), "mix": c(mix)})
}

/// Renders a plan with the given responses, returning planar master L, R (float64, clipped).
fn render(
    plan: &Value,
    irs: Vec<ImpulseResponse>,
    sources: &[Vec<f32>],
    block: usize,
) -> [Vec<f64>; 2] {
    common::render_with_irs(plan, irs, sources, block, 1)
}

fn unit_impulse(frames: usize, channels: usize, rate: u32) -> ImpulseResponse {
    let mut samples = vec![0.0; frames * channels];
    samples[..channels].fill(1.0);
    ImpulseResponse {
        channels,
        sample_rate: rate,
        samples,
    }
}

#[test]
fn a_click_through_a_unit_impulse_arrives_with_the_click_on_a_plain_track() {
    let frames = 30000;
    let mut click = vec![0.0f32; frames];
    click[10000] = 0.5;
    let mut a = common::track("through the convolution", 1, 48000, frames as u64, 0);
    a["pan"] = c(-1.0);
    // A limiter first, so that the convolution sits behind 240 frames of latency.
    a["inserts"] = json!([
        {"type": "limiter", "name": "lim", "bypass": false, "ceiling_db": c(0.0),
            "release_ms": c(50.0), "lookahead_ms": 5.0, "true_peak": false},
        convolution_insert(0, 1.0),
    ]);
    let mut b = common::track("plain", 1, 48000, frames as u64, 0);
    b["pan"] = c(1.0);
    let plan = common::plan(vec![a, b], frames as u64);
    for block in [64, 4096] {
        let [l, r] = render(
            &plan,
            vec![unit_impulse(40000, 1, 48000)],
            &[click.clone(), click.clone()],
            block,
        );
        let at = |x: &[f64]| x.iter().position(|&v| v != 0.0);
        assert_eq!(at(&r), Some(10000));
        assert_eq!(
            at(&l),
            Some(10000),
            "block {block}: the click through the convolution"
        );
        assert_eq!(
            l[10000], r[10000],
            "a unit impulse passes the click unchanged"
        );
    }
}

#[test]
fn a_stereo_response_makes_a_mono_track_stereo_in_the_engine() {
    let frames = 4000;
    let mut click = vec![0.0f32; frames];
    click[1000] = 0.5;
    let mut t = common::track("mono", 1, 48000, frames as u64, 0);
    t["pan_law"] = json!("0dB");
    t["inserts"] = json!([convolution_insert(0, 1.0)]);
    let plan = common::plan(vec![t], frames as u64);
    // L: the click itself; R: the click 100 frames later, at half level.
    let mut samples = vec![0.0; 2 * 200];
    samples[0] = 1.0;
    samples[2 * 100 + 1] = 0.5;
    let ir = ImpulseResponse {
        channels: 2,
        sample_rate: 48000,
        samples,
    };
    let [l, r] = render(&plan, vec![ir], &[click], 256);
    assert_eq!(l[1000], 0.5);
    assert!(
        r[1000].abs() < 1e-15 && (r[1100] - 0.25).abs() < 1e-15,
        "R {} {}",
        r[1000],
        r[1100]
    );
}

#[test]
fn a_response_at_another_rate_is_resampled_and_keeps_its_level() {
    let frames = 24000;
    let tone: Vec<f32> = dsp_util::sine(1000.0, FS, 0.5, frames)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut t = common::track("tone", 1, 48000, frames as u64, 0);
    t["pan_law"] = json!("0dB");
    t["inserts"] = json!([convolution_insert(0, 1.0)]);
    let plan = common::plan(vec![t], frames as u64);
    for rate in [44100, 96000] {
        // The impulse away from the response's first frame: resampling puts band-limited
        // ringing on both sides of it, and before frame 0 there is no room for it.
        let mut ir = unit_impulse(2000, 1, rate);
        ir.samples.rotate_right(300);
        let [l, _] = render(&plan, vec![ir], std::slice::from_ref(&tone), 1024);
        let rms = |x: &[f64]| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        let db = dsp_util::db(rms(&l[4000..20000]) / rms(&dsp_util::sine(1000.0, FS, 0.5, 16000)));
        assert!(
            db.abs() < 0.01,
            "unit impulse at {rate} Hz: 1 kHz level {db:+.4} dB"
        );
    }
    let ir = unit_impulse(441, 2, 44100).resampled(48000);
    assert_eq!((ir.channels, ir.sample_rate, ir.frames()), (2, 48000, 480));
}

#[test]
fn a_missing_response_is_the_callers_error_and_a_broken_one_the_responses() {
    let mut t = common::track("t", 1, 48000, 100, 0);
    t["inserts"] = json!([convolution_insert(1, 1.0)]);
    let plan = Plan::from_json(common::plan(vec![t], 100).to_string().as_bytes()).unwrap();
    let config = EngineConfig {
        max_block: 64,
        threads: 1,
        stems: false,
    };
    let refused = |r: Result<Engine, EngineError>| match r {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    // The plan's index beyond the responses given: the caller's misuse, not the plan's.
    for given in [0, 1] {
        let irs = vec![unit_impulse(10, 1, 48000); given];
        let err = refused(Engine::with_impulse_responses(&plan, config, irs));
        assert_eq!(
            err,
            EngineError::NoImpulseResponse {
                insert: "conv".into(),
                index: 1,
                given
            }
        );
        assert_eq!(
            err.to_string(),
            format!("convolution \"conv\": impulse response 1 was not given ({given} given)")
        );
    }
    // A response that is not 1 or 2 channels of finite samples: a source's error, naming
    // which of those given (the binding adds its file).
    let mut nan = unit_impulse(10, 1, 48000);
    nan.samples[3] = f64::NAN;
    let three = ImpulseResponse {
        channels: 3,
        sample_rate: 48000,
        samples: vec![0.0; 9],
    };
    let ragged = ImpulseResponse {
        channels: 2,
        sample_rate: 48000,
        samples: vec![0.0; 9],
    };
    let cases = [
        (nan, "sample 1 of frame 3 is not finite"),
        (three, "3 channels (1 or 2 allowed)"),
        (
            ragged,
            "9 samples is not a whole number of 2-channel frames",
        ),
    ];
    for (bad, reason) in cases {
        let irs = vec![unit_impulse(10, 1, 48000), bad.clone(), bad];
        let err = refused(Engine::with_impulse_responses(&plan, config, irs));
        assert_eq!(
            err,
            EngineError::ImpulseResponse {
                index: 1,
                path: None,
                reason: reason.to_owned()
            }
        );
        assert_eq!(err.to_string(), format!("impulse response 1: {reason}"));
        let named = EngineError::ImpulseResponse {
            index: 1,
            path: Some("irs/hall.wav".into()),
            reason: reason.to_owned(),
        };
        assert_eq!(
            named.to_string(),
            format!("impulse response irs/hall.wav: {reason}")
        );
    }
    let mut t = common::track("t", 1, 48000, 100, 0);
    t["inserts"] = json!([{"type": "convolution", "name": "conv", "bypass": false, "ir": 0,
        "predelay_ms": c(1500.0), "gain_db": c(0.0), "mix": c(1.0)}]);
    let err = Plan::from_json(common::plan(vec![t], 100).to_string().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("predelay_ms"), "{err}");
}

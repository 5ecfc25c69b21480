//! The `delay` insert against its definition (references section 10 and the spec's
//! clarifications): a static delay is `round(t fs)` frames and a bit-exact delay of the
//! input, for times in ms and for note values as the planner converts them; repeats scale
//! by exactly the feedback; ping-pong alternates sides; the loop filters give the analytic
//! response `z^-D F / (1 - g z^-D F)`; a change of time glides without a click; `mix` is
//! the linear law; block size never changes a bit and `reset` repeats.

mod common;
mod dsp_util;

use dsp_util::{assert_close, bits, c, lane, noise, program, run_channels, slot};
use mixrender_engine::math;
use mixrender_engine::plan::Insert;
use serde_json::{Value, json};

/// The delay's plan JSON: 250 ms, no feedback, no filters, all wet; `over` replaces keys.
fn delay(over: &Value) -> Value {
    let mut base = json!({"type": "delay", "name": "dly", "bypass": false,
        "time_ms": c(250.0), "feedback": c(0.0), "ping_pong": false,
        "lowcut_hz": null, "highcut_hz": null, "mix": c(1.0)});
    for (k, v) in over.as_object().expect("an object") {
        base[k] = v.clone();
    }
    base
}

fn impulse(len: usize, at: usize) -> Vec<f64> {
    let mut x = vec![0.0; len];
    x[at] = 1.0;
    x
}

/// `1000 * beats * 60 / bpm`: the planner's conversion of a note value to `time_ms`
/// (`note_seconds`: a note `1/d` lasts `4 / d` beats in 4/4, dotted x1.5, triplet x2/3).
fn note_ms(beats: f64, bpm: f64) -> f64 {
    1000.0 * (beats * 60.0 / bpm)
}

#[test]
fn a_static_delay_is_round_t_fs_frames_and_bit_exact() {
    // (fs, time_ms, expected frames), the frames worked out by hand from round(t fs).
    let cases = [
        (48000.0, 250.0, 12000),
        (44100.0, 10.0, 441),
        (44100.0, 0.1, 4),   // 4.41
        (44100.0, 0.34, 15), // 14.994
        (96000.0, 15.625, 1500),
        (48000.0, 0.02, 1), // 0.96
        (48000.0, 0.01, 0), // 0.48
        (48000.0, 0.0, 0),
        (48000.0, 1.0 / 48.0, 1),
        (48000.0, 2.0 / 48.0, 2),
        (48000.0, 47.0 / 48.0, 47),
        (44100.0, 47.0 / 44.1, 47),
        // note values as the planner gives them
        (48000.0, note_ms(0.5, 120.0), 12000), // 1/8 at 120 = 250 ms
        (48000.0, note_ms(0.75, 120.0), 18000), // 1/8d = 375 ms
        (48000.0, note_ms(2.0 / 3.0, 120.0), 16000), // 1/4t = 333.33 ms
        (48000.0, note_ms(0.75, 128.0), 16875), // 1/8d at 128 = 351.5625 ms
        (48000.0, note_ms(0.25 * 2.0 / 3.0, 92.0), 5217), // 1/16t at 92 = 108.696 ms
    ];
    for (fs, ms, d) in cases {
        let len = d + 1500;
        let [l, r] = program(len, fs, 3);
        for channels in [1, 2] {
            let mut s = slot(
                &delay(&json!({"time_ms": c(ms), "feedback": c(0.0)})),
                fs,
                4096,
            );
            let ([yl, yr], ch) = run_channels(&mut s, 0, 4096, channels, [&l, &r]);
            assert_eq!(ch, channels, "a plain delay keeps the channel count");
            let pairs: Vec<(&Vec<f64>, &Vec<f64>)> = if channels == 2 {
                vec![(&yl, &l), (&yr, &r)]
            } else {
                vec![(&yl, &l)]
            };
            for (y, x) in pairs {
                assert!(
                    y[..d].iter().all(|v| *v == 0.0),
                    "{ms} ms at {fs}: early output"
                );
                assert!(
                    y[d..]
                        .iter()
                        .zip(x)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{ms} ms at {fs}: not a bit-exact delay of {d} frames"
                );
            }
        }
        // An impulse at frame 37 comes out at 37 + D, nowhere else.
        let mut s = slot(&delay(&json!({"time_ms": c(ms)})), fs, 4096);
        let x = impulse(len, 37);
        let ([y, _], _) = run_channels(&mut s, 0, 4096, 1, [&x, &x]);
        let peaks: Vec<usize> = (0..len).filter(|&i| y[i] != 0.0).collect();
        assert_eq!(peaks, vec![37 + d], "{ms} ms at {fs}");
        assert_eq!(y[37 + d], 1.0);
    }
}

#[test]
fn a_delay_of_zero_frames_is_the_input_itself_whatever_the_feedback() {
    // "A static delay is round(t * fs) frames": 0 ms (and anything under half a frame) is 0
    // frames. A loop without a frame of delay cannot run: the feedback has no effect.
    let fs = 48000.0;
    let [l, r] = program(5000, fs, 11);
    for ms in [0.0, 0.01] {
        for g in [0.0, 0.5, -0.99] {
            for channels in [1, 2] {
                let mut s = slot(
                    &delay(&json!({"time_ms": c(ms), "feedback": c(g)})),
                    fs,
                    4096,
                );
                let (y, ch) = run_channels(&mut s, 0, 1000, channels, [&l, &r]);
                assert_eq!(ch, channels);
                assert!(y[0] == l, "{ms} ms, feedback {g}, {channels} ch: left");
                if channels == 2 {
                    assert!(y[1] == r, "{ms} ms, feedback {g}: right");
                }
            }
            // Ping-pong: the mono sum on the left at once, nothing on the right.
            let insert = delay(&json!({"time_ms": c(ms), "feedback": c(g), "ping_pong": true}));
            let mut s = slot(&insert, fs, 4096);
            let ([yl, yr], ch) = run_channels(&mut s, 0, 1000, 2, [&l, &r]);
            assert_eq!(ch, 2);
            assert!(
                (0..l.len()).all(|i| yl[i] == 0.5 * (l[i] + r[i])),
                "ping-pong left"
            );
            assert!(yr.iter().all(|&v| v == 0.0), "ping-pong right");
        }
    }
}

#[test]
fn a_time_lane_glides_from_zero_frames_and_back_without_a_click() {
    let fs = 48000.0;
    let (a, w) = (0.5, core::f64::consts::TAU * 1000.0 / fs);
    let len = 120_000;
    let x: Vec<f64> = (0..len).map(|i| a * math::sin(w * i as f64)).collect();
    // 0 ms, a jump to 2 ms (96 frames) at frame 4800, a jump back to 0 ms at frame 60000.
    let time = lane(&[(0, 0.0, "step"), (4800, 2.0, "step"), (60000, 0.0, "step")]);
    for (g, block) in [(0.0, 64), (0.0, 4096), (0.3, 64), (0.3, 4096)] {
        let mut s = slot(
            &delay(&json!({"time_ms": time, "feedback": c(g)})),
            fs,
            4096,
        );
        let ([y, _], _) = run_channels(&mut s, 0, block, 1, [&x, &x]);
        let exact = |from: usize, to: usize, d: usize| {
            (from..to).all(|i| y[i].to_bits() == x[i - d].to_bits())
        };
        assert!(exact(0, 4800, 0), "feedback {g}: 0 frames before the jump");
        assert!(
            !exact(4800, 60000, 0),
            "feedback {g}: the delay did nothing"
        );
        if g == 0.0 {
            // The bound of the glide test above (a comb of a few frames, with feedback,
            // is not smooth while its length moves: no bound then).
            let second = (1..len - 1)
                .map(|i| (y[i + 1] - 2.0 * y[i] + y[i - 1]).abs())
                .fold(0.0, f64::max);
            let bound = a * (w * w * 2.25 + w * 0.5);
            assert!(second <= bound, "a click: {second} > {bound}");
            assert!(
                exact(56000, 60000, 96),
                "not a bit-exact delay of 96 frames"
            );
        } else {
            // Landed before frame 50000: repeats from before then are below g^60.
            let want = |i: usize| {
                let (mut sum, mut gain) = (0.0, 1.0);
                for k in 1..=60 {
                    sum += gain * x[i - 96 * k];
                    gain *= g;
                }
                sum
            };
            let err = (56000..60000)
                .map(|i| (y[i] - want(i)).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "feedback {g}: repeats at 96 frames ({err})");
        }
        assert!(
            exact(110_000, len, 0),
            "feedback {g}: 0 frames after the glide back"
        );
    }
}

#[test]
fn each_repeat_is_the_one_before_times_the_feedback() {
    let (fs, d, at) = (48000.0, 480, 100);
    for g in [0.5, -0.7, 0.99, -0.99] {
        let mut s = slot(
            &delay(&json!({"time_ms": c(10.0), "feedback": c(g)})),
            fs,
            4096,
        );
        let len = at + 40 * d + 10;
        let x = impulse(len, at);
        let ([y, _], _) = run_channels(&mut s, 0, 1000, 1, [&x, &x]);
        let mut want = 1.0;
        for k in 1..=40 {
            let n = at + k * d;
            assert_close(&format!("feedback {g}: repeat {k}"), y[n], want, 1e-12);
            if k > 1 {
                let ratio = y[n] / y[n - d];
                assert_close(
                    &format!("feedback {g}: ratio {k}/{}", k - 1),
                    ratio,
                    g,
                    1e-12,
                );
            }
            want *= g;
        }
        let others = (0..len).filter(|&i| i < at + d || (i - at) % d != 0);
        assert!(
            others.into_iter().all(|i| y[i] == 0.0),
            "feedback {g}: energy between repeats"
        );
    }
}

#[test]
fn ping_pong_alternates_left_and_right() {
    let (fs, d, at, g) = (48000.0, 4800, 50, 0.6);
    let insert = delay(&json!({"time_ms": c(100.0), "feedback": c(g), "ping_pong": true}));
    let len = at + 9 * d + 10;
    // Mono in: the insert turns it stereo.
    let x = impulse(len, at);
    let mut s = slot(&insert, fs, 4096);
    let ([l, r], ch) = run_channels(&mut s, 0, 333, 1, [&x, &x]);
    assert_eq!(ch, 2, "ping-pong makes stereo from mono");
    let mut want = 1.0;
    for k in 1..=8 {
        let n = at + k * d;
        let (on, off) = if k % 2 == 1 { (&l, &r) } else { (&r, &l) };
        assert_close(&format!("repeat {k} on its side"), on[n], want, 1e-12);
        assert_eq!(off[n], 0.0, "repeat {k} leaks to the other side");
        want *= g;
    }
    let silent = |y: &Vec<f64>| {
        (0..len)
            .filter(|&i| i < at + d || (i - at) % d != 0)
            .all(|i| y[i] == 0.0)
    };
    assert!(silent(&l) && silent(&r), "energy between repeats");
    // Stereo in: the mono sum (L + R) / 2 enters on the left.
    let zero = vec![0.0; len];
    let mut s = slot(&insert, fs, 4096);
    let ([l, r], ch) = run_channels(&mut s, 0, 4096, 2, [&zero, &x]);
    assert_eq!(ch, 2);
    assert_eq!((l[at + d], r[at + d]), (0.5, 0.0));
    assert_close("stereo in, second repeat", r[at + 2 * d], 0.5 * g, 1e-15);
}

#[derive(Clone, Copy)]
struct Cx(f64, f64);

impl Cx {
    fn add(self, o: Cx) -> Cx {
        Cx(self.0 + o.0, self.1 + o.1)
    }
    fn mul(self, o: Cx) -> Cx {
        Cx(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn div(self, o: Cx) -> Cx {
        let d = o.0 * o.0 + o.1 * o.1;
        Cx(
            (self.0 * o.0 + self.1 * o.1) / d,
            (self.1 * o.0 - self.0 * o.1) / d,
        )
    }
    fn abs(self) -> f64 {
        math::sqrt(self.0 * self.0 + self.1 * self.1)
    }
    fn expj(w: f64) -> Cx {
        Cx(math::cos(w), math::sin(w))
    }
}

/// The cookbook 2nd-order high- or low-pass (Q 0.7071) at `f`: its analog prototype at the
/// pre-warped frequency, which the bilinear transform makes equal to the digital response.
fn cookbook(highpass: bool, f0: f64, f: f64, fs: f64) -> Cx {
    let pi = core::f64::consts::PI;
    let w = math::tan(pi * f / fs) / math::tan(pi * f0 / fs);
    let den = Cx(1.0 - w * w, w / core::f64::consts::FRAC_1_SQRT_2);
    let num = if highpass {
        Cx(-w * w, 0.0)
    } else {
        Cx(1.0, 0.0)
    };
    num.div(den)
}

#[test]
fn loop_filters_give_the_analytic_response() {
    let (fs, d, g, lo, hi) = (48000.0, 64usize, 0.6, 150.0, 5000.0);
    let ms = d as f64 / fs * 1000.0;
    let insert = delay(&json!({"time_ms": c(ms), "feedback": c(g),
        "lowcut_hz": c(lo), "highcut_hz": c(hi)}));
    let mut s = slot(&insert, fs, 4096);
    let len = 1 << 15;
    let x = impulse(len, 0);
    let ([h, _], _) = run_channels(&mut s, 0, 4096, 1, [&x, &x]);
    assert!(
        h[len - 200..].iter().all(|v| v.abs() < 1e-13),
        "the response has not decayed"
    );
    let mut worst: f64 = 0.0;
    for f in [40.0, 150.0, 400.0, 1000.0, 3000.0, 5000.0, 9000.0, 16000.0] {
        let w = core::f64::consts::TAU * f / fs;
        // The DFT of the rendered response at f.
        let mut measured = Cx(0.0, 0.0);
        for (n, v) in h.iter().enumerate() {
            let z = Cx::expj(-w * n as f64);
            measured = measured.add(Cx(v * z.0, v * z.1));
        }
        let zd = Cx::expj(-w * d as f64);
        let filt = cookbook(true, lo, f, fs).mul(cookbook(false, hi, f, fs));
        let loop_ = zd.mul(filt);
        let want = loop_.div(Cx(1.0 - g * loop_.0, -g * loop_.1));
        let err = Cx(measured.0 - want.0, measured.1 - want.1).abs() / want.abs();
        worst = worst.max(err);
        assert!(
            err < 1e-9,
            "{f} Hz: relative error {err:e} (|H| {})",
            want.abs()
        );
    }
    eprintln!("loop filters: worst relative error of the response {worst:.1e}");
}

#[test]
fn a_change_of_time_glides_without_a_click_and_lands_exactly() {
    let fs = 48000.0;
    let (a, w) = (0.5, core::f64::consts::TAU * 1000.0 / fs);
    let len = 3 * 48000;
    let x: Vec<f64> = (0..len).map(|i| a * math::sin(w * i as f64)).collect();
    // 100 ms, a jump to 113.5 ms at a crest (13.5 periods more: the worst click), then
    // down along a ramp to 80 ms from 1.0 to 1.25 s.
    let time = lane(&[
        (0, 100.0, "linear"),
        (24012, 100.0, "step"),
        (24012, 113.5, "linear"),
        (48000, 113.5, "linear"),
        (60000, 80.0, "linear"),
    ]);
    let mut s = slot(&delay(&json!({"time_ms": time})), fs, 4096);
    let ([y, _], _) = run_channels(&mut s, 0, 4096, 1, [&x, &x]);
    let second = |y: &[f64], from: usize| {
        (from + 1..y.len() - 1)
            .map(|i| (y[i + 1] - 2.0 * y[i] + y[i - 1]).abs())
            .fold(0.0, f64::max)
    };
    // A smooth read at speed s in 0.5 ..= 1.5 has |second difference| <= a (w^2 s^2 + w |ds|)
    // with |ds| <= 0.5 where the speed limit engages: 0.052 here. A jump of the read head
    // (a click) is of the order of the amplitude.
    let bound = a * (w * w * 2.25 + w * 0.5);
    let got = second(&y, 4800);
    // What reading without a glide would give at the jump: the read head jumps.
    let naive: Vec<f64> = (0..len)
        .map(|i| {
            let d = if i >= 24012 { 5448 } else { 4800 };
            if i >= d { x[i - d] } else { 0.0 }
        })
        .collect();
    let jump = second(&naive, 4800);
    eprintln!(
        "time change: max |second difference| {got:.4} (bound {bound:.4}; a jump would give {jump:.3})"
    );
    assert!(got <= bound, "a click: {got} > {bound}");
    assert!(jump > 10.0 * bound);
    // Once the glide has landed, the delay is bit-exact again (80 ms = 3840 frames).
    let d = 3840;
    assert!(
        (120_000..len).all(|i| y[i].to_bits() == x[i - d].to_bits()),
        "not a bit-exact delay after the glide"
    );
}

#[test]
fn mix_is_the_linear_dry_wet_law() {
    let fs = 48000.0;
    let [l, r] = program(6000, fs, 9);
    for ping_pong in [false, true] {
        for channels in [1, 2] {
            let dry = delay(
                &json!({"time_ms": c(20.0), "feedback": c(0.4), "mix": c(0.0),
                "ping_pong": ping_pong}),
            );
            let mut s = slot(&dry, fs, 4096);
            let ([yl, yr], ch) = run_channels(&mut s, 0, 512, channels, [&l, &r]);
            let same =
                |y: &[f64], x: &[f64]| y.iter().zip(x).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same(&yl, &l), "mix 0 is dry");
            if ch == 2 {
                assert!(
                    same(&yr, if channels == 2 { &r } else { &l }),
                    "mix 0 is dry"
                );
            }
            let wet = |m: f64| {
                let mut s = slot(
                    &delay(&json!({"time_ms": c(20.0), "feedback": c(0.4), "mix": c(m),
                        "ping_pong": ping_pong})),
                    fs,
                    4096,
                );
                run_channels(&mut s, 0, 512, channels, [&l, &r]).0
            };
            let (full, quarter) = (wet(1.0), wet(0.25));
            for side in 0..ch {
                let x = if side == 1 && channels == 2 { &r } else { &l };
                for i in 0..l.len() {
                    let want = 0.75 * x[i] + 0.25 * full[side][i];
                    assert!((quarter[side][i] - want).abs() < 1e-15);
                }
            }
        }
    }
}

/// A lane moving between `a` and `b` over the test signal, with a jump and a ramp.
fn mv(a: f64, b: f64) -> Value {
    const START: u64 = 12_345;
    lane(&[
        (START + 400, a, "linear"),
        (START + 1500, b, "smooth"),
        (START + 2401, a, "step"),
        (START + 3500, b, "linear"),
    ])
}

#[test]
fn block_size_never_changes_a_bit_and_reset_repeats() {
    let fs = 48000.0;
    let [l, r] = program(6000, fs, 21);
    let variants = [
        delay(&json!({"time_ms": mv(3.0, 17.5), "feedback": mv(0.2, -0.8), "mix": mv(1.0, 0.3)})),
        delay(
            &json!({"time_ms": c(5.0), "feedback": c(0.7), "lowcut_hz": mv(80.0, 600.0),
            "highcut_hz": mv(9000.0, 2000.0)}),
        ),
        delay(
            &json!({"time_ms": mv(2.0, 9.0), "feedback": c(0.5), "ping_pong": true,
            "highcut_hz": c(4000.0), "mix": mv(0.8, 0.2)}),
        ),
    ];
    for insert in &variants {
        for channels in [1, 2] {
            let mut s = slot(insert, fs, 4096);
            let (reference, ch) = run_channels(&mut s, 12_345, 4096, channels, [&l, &r]);
            let want = bits(&reference);
            for block in [1, 7, 32, 64, 4096] {
                let mut s = slot(insert, fs, 4096);
                let (got, got_ch) = run_channels(&mut s, 12_345, block, channels, [&l, &r]);
                assert!(
                    bits(&got) == want && got_ch == ch,
                    "block size {block} changes the output"
                );
                s.processor.reset();
                let (again, _) = run_channels(&mut s, 12_345, block, channels, [&l, &r]);
                assert!(
                    bits(&again) == want,
                    "reset does not repeat (block {block})"
                );
            }
            assert!(reference[0] != l, "the delay did nothing");
        }
    }
}

#[test]
fn bypass_is_the_identity_and_latency_is_zero() {
    let fs = 44100.0;
    let [l, r] = program(3000, fs, 5);
    let mut insert = delay(&json!({"time_ms": c(7.0), "feedback": c(0.5), "ping_pong": true}));
    insert["bypass"] = json!(true);
    let mut s = slot(&insert, fs, 4096);
    assert_eq!(s.processor.latency(), 0);
    for channels in [1, 2] {
        let ([yl, yr], ch) = run_channels(&mut s, 0, 100, channels, [&l, &r]);
        assert_eq!(ch, channels);
        assert_eq!(yl, l);
        if channels == 2 {
            assert_eq!(yr, r);
        }
    }
}

#[test]
fn plan_json_is_strict_and_checked() {
    let check = |v: Value| serde_json::from_value::<Insert>(v).map(|i| i.check());
    assert!(
        check(delay(&json!({"tiem_ms": c(1.0)}))).is_err(),
        "unknown key"
    );
    assert!(
        check(delay(&json!({"time_ms": null}))).is_err(),
        "time_ms is required"
    );
    assert!(
        check(delay(&json!({"time_ms": c(20_000.0)})))
            .unwrap()
            .is_err()
    );
    assert!(check(delay(&json!({"feedback": c(1.0)}))).unwrap().is_err());
    assert!(
        check(delay(&json!({"feedback": c(-0.99), "lowcut_hz": c(100.0)})))
            .unwrap()
            .is_ok()
    );
    let insert: Insert = serde_json::from_value(delay(
        &json!({"lowcut_hz": c(100.0), "highcut_hz": c(8000.0)}),
    ))
    .unwrap();
    assert_eq!(insert.lanes().len(), 5);
}

#[test]
fn in_an_engine_a_ping_pong_delay_turns_a_mono_track_stereo() {
    // A mono impulse at frame 100 through a ping-pong delay on a centred mono track: the
    // track becomes stereo, so its pan is balance (unity at the centre) and the repeats
    // reach the master unscaled, left then right. A plain delay keeps it mono: the -3 dB
    // law's cos(pi/4) on both sides.
    let (d, g) = (480, 0.5);
    let mut src = vec![0.0f32; 4000];
    src[100] = 1.0;
    for (ping_pong, gains) in [
        (true, (1.0, 0.0)),
        (
            false,
            (
                core::f64::consts::FRAC_1_SQRT_2,
                core::f64::consts::FRAC_1_SQRT_2,
            ),
        ),
    ] {
        let mut t = common::track("T", 1, 48000, 4000, 0);
        t["inserts"] = json!([delay(&json!({"time_ms": c(10.0), "feedback": c(g),
            "ping_pong": ping_pong}))]);
        let p = common::plan(vec![t], 4000);
        let [l, r] = common::render(&p, &[src.clone()], 1000, 1);
        assert_close("first repeat, left", l[100 + d], gains.0, 1e-7);
        assert_close("first repeat, right", r[100 + d], gains.1, 1e-7);
        if ping_pong {
            assert_close("second repeat, right", r[100 + 2 * d], g, 1e-7);
            assert_eq!(l[100 + 2 * d], 0.0);
        }
    }
    // Noise through the engine at two block sizes: the same bits.
    let src: Vec<f32> = noise(4000, 2).iter().map(|&v| 0.5 * v as f32).collect();
    let mut t = common::track("T", 1, 48000, 4000, 0);
    t["inserts"] = json!([delay(&json!({"time_ms": mv(1.0, 30.0), "feedback": c(0.6),
        "ping_pong": true, "mix": c(0.5)}))]);
    let p = common::plan(vec![t], 20_000);
    let a = common::render(&p, std::slice::from_ref(&src), 4096, 1);
    let b = common::render(&p, &[src], 77, 1);
    assert_eq!(common::bits(&a), common::bits(&b));
}

//! EBU Tech 3341 (cases 1-6, 9-14, the section 2.9 alignment) and Tech 3342 (cases 1-4)
//! synthesised from their definitions at 44.1 and 48 kHz, run through the streaming
//! [`Loudness`] (the meter's loudness part), and held to the published tolerances (M, S,
//! I +-0.1 LU; LRA +-1 LU) and, as an implementation check, to a plain BS.1770-4
//! reference (`ebu::Reference`: direct K-filter from the published tables, full-precision
//! gating over all blocks, sample-accurate windows) within 0.01 LU. Also ITU-R BS.1770's
//! calibration: a 0 dBFS 997 Hz sine in one front channel reads -3.01 LKFS.
//!
//! Cases 7 and 8 (3342 cases 5 and 6) are authentic programme, not synthesisable; the
//! official files that exist are tested from Python (`tests/test_meters.py`).

mod ebu;

use ebu::{Reference, SILENCE_DB, assert_within, frames, stereo, tone, tone_at};
use mixrender_engine::meter::Loudness;

const RATES: [u32; 2] = [44_100, 48_000];
/// Published tolerances (Tech 3341 / 3342).
const TOL_LU: f64 = 0.1;
const TOL_LRA: f64 = 1.0;
/// Implementation check against the plain reference.
const TOL_EXACT: f64 = 0.01;

#[derive(Debug, Clone)]
enum Expect {
    Integrated(f64),
    MomentaryFinal(f64),
    ShortTermFinal(f64),
    MaxMomentary(f64),
    MaxShortTerm(f64),
    MomentaryConstant { value: f64, after_s: f64 },
    ShortTermConstant { value: f64, after_s: f64 },
    MaxMomentaryPerSegment { segment_s: f64, values: Vec<f64> },
    MaxShortTermPerSegment { segment_s: f64, values: Vec<f64> },
    Lra(f64),
}

impl Expect {
    /// Live-meter expectations need the M/S series at every 10 ms hop.
    fn live(&self) -> bool {
        matches!(
            self,
            Self::MomentaryConstant { .. }
                | Self::ShortTermConstant { .. }
                | Self::MaxMomentaryPerSegment { .. }
                | Self::MaxShortTermPerSegment { .. }
        )
    }
}

type Signal = Box<dyn Fn(u32) -> Vec<Vec<f64>> + Sync>;

struct Case {
    id: String,
    signal: Signal,
    expect: Vec<Expect>,
}

fn case(id: impl Into<String>, signal: Signal, expect: Vec<Expect>) -> Case {
    Case {
        id: id.into(),
        signal,
        expect,
    }
}

fn tones(segments: Vec<(u64, f64)>) -> Signal {
    Box::new(move |fs| stereo(tone(fs, &segments)))
}

/// Every synthesisable case of 3341 Table 1 (1-6, 9-14), 3342 Table 1 (1-4) and the two
/// calibrations, with the published expected values.
fn cases() -> Vec<Case> {
    let mut v = vec![
        case(
            "3341-1",
            tones(vec![(20_000, -23.0)]),
            vec![
                Expect::MomentaryFinal(-23.0),
                Expect::ShortTermFinal(-23.0),
                Expect::Integrated(-23.0),
            ],
        ),
        case(
            "3341-2",
            tones(vec![(20_000, -33.0)]),
            vec![
                Expect::MomentaryFinal(-33.0),
                Expect::ShortTermFinal(-33.0),
                Expect::Integrated(-33.0),
            ],
        ),
        case(
            "3341-3",
            tones(vec![(10_000, -36.0), (60_000, -23.0), (10_000, -36.0)]),
            vec![Expect::Integrated(-23.0)],
        ),
        case(
            "3341-4",
            tones(vec![
                (10_000, -72.0),
                (10_000, -36.0),
                (60_000, -23.0),
                (10_000, -36.0),
                (10_000, -72.0),
            ]),
            vec![Expect::Integrated(-23.0)],
        ),
        case(
            "3341-5",
            tones(vec![(20_000, -26.0), (20_100, -20.0), (20_000, -26.0)]),
            vec![Expect::Integrated(-23.0)],
        ),
        case(
            "3341-6",
            Box::new(|fs| {
                [-28.0, -28.0, -24.0, -30.0, -30.0]
                    .iter()
                    .map(|&db| tone(fs, &[(20_000, db)]))
                    .collect()
            }),
            vec![Expect::Integrated(-23.0)],
        ),
        case(
            "3341-9",
            tones([(1_340, -20.0), (1_660, -30.0)].repeat(5)),
            vec![Expect::ShortTermConstant {
                value: -23.0,
                after_s: 3.0,
            }],
        ),
        case(
            "3341-11",
            tones(
                (0..20u64)
                    .flat_map(|i| {
                        [
                            (150 * i, SILENCE_DB),
                            (3_000, -38.0 + i as f64),
                            (3_000 - 150 * i, SILENCE_DB),
                        ]
                    })
                    .collect(),
            ),
            vec![Expect::MaxShortTermPerSegment {
                segment_s: 6.0,
                values: (0..20).map(|i| -38.0 + f64::from(i)).collect(),
            }],
        ),
        case(
            "3341-12",
            tones([(180, -20.0), (220, -30.0)].repeat(25)),
            vec![Expect::MomentaryConstant {
                value: -23.0,
                after_s: 1.0,
            }],
        ),
        case(
            "3341-14",
            tones(
                (0..20u64)
                    .flat_map(|i| {
                        [
                            (20 * i, SILENCE_DB),
                            (400, -38.0 + i as f64),
                            (400 - 20 * i, SILENCE_DB),
                        ]
                    })
                    .collect(),
            ),
            vec![Expect::MaxMomentaryPerSegment {
                segment_s: 0.8,
                values: (0..20).map(|i| -38.0 + f64::from(i)).collect(),
            }],
        ),
        case(
            "3342-1",
            tones(vec![(20_000, -20.0), (20_000, -30.0)]),
            vec![Expect::Lra(10.0)],
        ),
        case(
            "3342-2",
            tones(vec![(20_000, -20.0), (20_000, -15.0)]),
            vec![Expect::Lra(5.0)],
        ),
        case(
            "3342-3",
            tones(vec![(20_000, -40.0), (20_000, -20.0)]),
            vec![Expect::Lra(20.0)],
        ),
        case(
            "3342-4",
            tones(vec![
                (20_000, -50.0),
                (20_000, -35.0),
                (20_000, -20.0),
                (20_000, -35.0),
                (20_000, -50.0),
            ]),
            vec![Expect::Lra(15.0)],
        ),
        case(
            "cal-3341-2.9",
            tones(vec![(20_000, -18.0)]),
            vec![
                Expect::Integrated(-18.0),
                Expect::MomentaryFinal(-18.0),
                Expect::ShortTermFinal(-18.0),
            ],
        ),
        case(
            "cal-bs1770-997",
            Box::new(|fs| {
                let l = tone_at(997, fs, &[(10_000, 0.0)]);
                let r = vec![0.0; l.len()];
                vec![l, r]
            }),
            vec![Expect::Integrated(-3.01)],
        ),
    ];
    for i in 0..20u64 {
        v.push(case(
            format!("3341-10-{}", i + 1),
            tones(vec![
                (150 * i, SILENCE_DB),
                (3_000, -23.0),
                (1_000, SILENCE_DB),
            ]),
            vec![Expect::MaxShortTerm(-23.0)],
        ));
        v.push(case(
            format!("3341-13-{}", i + 1),
            tones(vec![
                (20 * i, SILENCE_DB),
                (400, -23.0),
                (1_000, SILENCE_DB),
            ]),
            vec![Expect::MaxMomentary(-23.0)],
        ));
    }
    v
}

/// One hop's live readings: the frame where it ended, M and S (LUFS).
struct Hop {
    end: usize,
    momentary: Option<f64>,
    short_term: Option<f64>,
}

/// The streaming meter's figures for a whole signal.
struct Readings {
    integrated: Option<f64>,
    lra: Option<f64>,
    momentary: Option<f64>,
    short_term: Option<f64>,
    max_momentary: Option<f64>,
    max_short_term: Option<f64>,
}

/// Runs the signal through the meter's loudness part ([`Loudness`], which `Meter` feeds
/// with the same slices: `tests/meter.rs` checks that the two agree bit for bit), in 10 ms
/// blocks, reading M and S after each, when a live expectation needs the series; otherwise
/// in blocks of an odd size.
fn measure(fs: u32, x: &[Vec<f64>], live: bool) -> (Readings, Vec<Hop>) {
    let mut m = Loudness::new(fs, x.len()).unwrap();
    let block = if live { frames(10, fs) } else { 4093 };
    let mut hops = Vec::new();
    let mut start = 0;
    while start < x[0].len() {
        let end = (start + block).min(x[0].len());
        let planar: Vec<&[f64]> = x.iter().map(|c| &c[start..end]).collect();
        m.process(&planar);
        if live {
            hops.push(Hop {
                end,
                momentary: m.momentary(),
                short_term: m.short_term(),
            });
        }
        start = end;
    }
    let r = Readings {
        integrated: m.integrated(),
        lra: m.loudness_range(),
        momentary: m.momentary(),
        short_term: m.short_term(),
        max_momentary: m.max_momentary(),
        max_short_term: m.max_short_term(),
    };
    (r, hops)
}

/// Largest deviations seen, for the summary line.
#[derive(Default)]
struct Worst {
    published: f64,
    exact: f64,
}

impl Worst {
    fn published(&mut self, d: f64) {
        self.published = self.published.max(d.abs());
    }
    fn exact(&mut self, d: f64) {
        self.exact = self.exact.max(d.abs());
    }
}

fn segment_maxima(hops: &[Hop], fs: u32, segment_s: f64, n: usize, momentary: bool) -> Vec<f64> {
    let seg = (segment_s * f64::from(fs)).round() as usize;
    let mut best = vec![f64::NEG_INFINITY; n];
    for h in hops {
        let k = h.end / seg;
        let v = if momentary { h.momentary } else { h.short_term };
        if let (Some(v), true) = (v, k < n) {
            best[k] = best[k].max(v);
        }
    }
    best
}

/// Runs one case at one rate and checks every expectation.
fn check(c: &Case, fs: u32, worst: &mut Worst) {
    let x = (c.signal)(fs);
    let live = c.expect.iter().any(Expect::live);
    let (r, hops) = measure(fs, &x, live);
    let reference = Reference::new(fs, &x);
    let what = |q: &str| format!("{} @ {fs} Hz {q}", c.id);
    let constant = |value: f64, after_s: f64, momentary: bool, worst: &mut Worst| {
        let from = (after_s * f64::from(fs)).round() as usize;
        let window = if momentary { 400 } else { 3000 };
        for h in hops
            .iter()
            .filter(|h| h.end >= from && h.end >= frames(window, fs))
        {
            let v = if momentary { h.momentary } else { h.short_term }.unwrap();
            let q = format!(
                "{} at {:.2} s",
                if momentary { "M" } else { "S" },
                h.end as f64 / f64::from(fs)
            );
            assert_within(&what(&q), v, value, TOL_LU, TOL_LU);
            worst.published(v - value);
        }
    };
    for e in &c.expect {
        match e {
            Expect::Integrated(v) => {
                let i = r.integrated.unwrap();
                let tol = if c.id == "cal-bs1770-997" {
                    0.01
                } else {
                    TOL_LU
                };
                assert_within(&what("I"), i, *v, tol, tol);
                worst.published(i - v);
                let exact = reference.integrated().unwrap();
                assert_within(&what("I vs reference"), i, exact, TOL_EXACT, TOL_EXACT);
                worst.exact(i - exact);
            }
            Expect::MomentaryFinal(v) => {
                let m = r.momentary.unwrap();
                assert_within(&what("final M"), m, *v, TOL_LU, TOL_LU);
                worst.published(m - v);
            }
            Expect::ShortTermFinal(v) => {
                let s = r.short_term.unwrap();
                assert_within(&what("final S"), s, *v, TOL_LU, TOL_LU);
                worst.published(s - v);
            }
            Expect::MaxMomentary(v) => {
                let m = r.max_momentary.unwrap();
                assert_within(&what("max M"), m, *v, TOL_LU, TOL_LU);
                worst.published(m - v);
                let exact = reference.max_momentary();
                assert_within(
                    &what("max M vs sample-accurate"),
                    m,
                    exact,
                    TOL_EXACT,
                    TOL_EXACT,
                );
                worst.exact(m - exact);
            }
            Expect::MaxShortTerm(v) => {
                let s = r.max_short_term.unwrap();
                assert_within(&what("max S"), s, *v, TOL_LU, TOL_LU);
                worst.published(s - v);
                let exact = reference.max_short_term();
                assert_within(
                    &what("max S vs sample-accurate"),
                    s,
                    exact,
                    TOL_EXACT,
                    TOL_EXACT,
                );
                worst.exact(s - exact);
            }
            Expect::MomentaryConstant { value, after_s } => constant(*value, *after_s, true, worst),
            Expect::ShortTermConstant { value, after_s } => {
                constant(*value, *after_s, false, worst);
            }
            Expect::MaxMomentaryPerSegment { segment_s, values }
            | Expect::MaxShortTermPerSegment { segment_s, values } => {
                let momentary = matches!(e, Expect::MaxMomentaryPerSegment { .. });
                let got = segment_maxima(&hops, fs, *segment_s, values.len(), momentary);
                for (k, (g, v)) in got.iter().zip(values).enumerate() {
                    assert_within(&what(&format!("segment {k} max")), *g, *v, TOL_LU, TOL_LU);
                    worst.published(g - v);
                }
            }
            Expect::Lra(v) => {
                let lra = r.lra.unwrap();
                assert_within(&what("LRA"), lra, *v, TOL_LRA, TOL_LRA);
                worst.published(lra - v);
                let exact = reference.loudness_range().unwrap();
                assert_within(&what("LRA vs reference"), lra, exact, TOL_EXACT, TOL_EXACT);
                worst.exact(lra - exact);
            }
        }
    }
}

/// Runs every case whose id starts with one of `prefixes`, at both rates, and prints the
/// worst deviations (visible with `--nocapture`).
fn run(prefixes: &[&str]) {
    let all = cases();
    let picked: Vec<&Case> = all
        .iter()
        .filter(|c| {
            prefixes
                .iter()
                .any(|p| c.id == *p || c.id.starts_with(&format!("{p}-")))
        })
        .collect();
    assert!(!picked.is_empty());
    let mut worst = Worst::default();
    for c in &picked {
        for fs in RATES {
            check(c, fs, &mut worst);
        }
    }
    eprintln!(
        "{prefixes:?}: {} cases x {:?} Hz; worst deviation from the published value {:.4} LU, \
         from the plain reference {:.2e} LU",
        picked.len(),
        RATES,
        worst.published,
        worst.exact
    );
}

#[test]
fn ebu_3341_cases_1_to_6() {
    run(&["3341-1", "3341-2", "3341-3", "3341-4", "3341-5", "3341-6"]);
}

#[test]
fn ebu_3341_cases_9_and_12_live_constant() {
    run(&["3341-9", "3341-12"]);
}

#[test]
fn ebu_3341_case_10_max_short_term() {
    run(&["3341-10"]);
}

#[test]
fn ebu_3341_cases_11_and_14_live_segments() {
    run(&["3341-11", "3341-14"]);
}

#[test]
fn ebu_3341_case_13_max_momentary() {
    run(&["3341-13"]);
}

#[test]
fn ebu_3342_cases_1_to_4_loudness_range() {
    run(&["3342"]);
}

#[test]
fn alignment_and_bs1770_calibration() {
    run(&["cal-3341-2.9", "cal-bs1770-997"]);
}

/// BS.1770 Annex 1: a 0 dBFS 997 Hz sine in any one of the front channels (L, R, C) reads
/// -3.01 LKFS; a surround reads 1.5 dB more (weight 1.41) and the LFE nothing.
#[test]
fn bs1770_997_hz_in_one_channel_reads_minus_3_01() {
    for fs in RATES {
        let sine = tone_at(997, fs, &[(5_000, 0.0)]);
        let silent = vec![0.0; sine.len()];
        for (channels, at, want) in [
            (1, 0, Some(-3.01)),
            (2, 1, Some(-3.01)),
            (5, 2, Some(-3.01)),
            (
                5,
                3,
                Some(-3.01 + 10.0 * mixrender_engine::math::log10(1.41)),
            ),
            (6, 0, Some(-3.01)),
            (6, 3, None),
        ] {
            let x: Vec<Vec<f64>> = (0..channels)
                .map(|c| {
                    if c == at {
                        sine.clone()
                    } else {
                        silent.clone()
                    }
                })
                .collect();
            let (r, _) = measure(fs, &x, false);
            let what = format!("997 Hz in channel {at} of {channels} @ {fs} Hz");
            match want {
                Some(v) => assert_within(&what, r.integrated.unwrap(), v, 0.01, 0.01),
                None => assert_eq!(r.integrated, None, "{what}: the LFE is not measured"),
            }
        }
    }
}

/// Case 6 as 5.1 (L, R, C, LFE, Ls, Rs) with a loud LFE reads exactly as 5.0.
#[test]
fn ebu_3341_case_6_with_an_lfe() {
    let fs = 48_000;
    let five: Vec<Vec<f64>> = [-28.0, -28.0, -24.0, -30.0, -30.0]
        .iter()
        .map(|&db| tone(fs, &[(20_000, db)]))
        .collect();
    let mut six = five.clone();
    six.insert(3, tone_at(50, fs, &[(20_000, -3.0)]));
    let (a, _) = measure(fs, &five, false);
    let (b, _) = measure(fs, &six, false);
    assert_eq!(a.integrated, b.integrated);
    assert_within(
        "3341-6 as 5.1",
        b.integrated.unwrap(),
        -23.0,
        TOL_LU,
        TOL_LU,
    );
}

/// A deterministic "programme": noise bursts whose level changes every 0.37 s, in a range
/// that exercises both gates. The histogram-based I and LRA match the plain reference
/// (every block and every short-term value kept and sorted) within 0.01 LU.
#[test]
fn histograms_match_the_exact_gating_on_programme_like_material() {
    let fs = 48_000;
    let n = 90 * fs as usize;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut level = 0.1;
    let mut x = vec![Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        if i % 17_760 == 0 {
            level = mixrender_engine::math::pow(10.0, (-55.0 + 50.0 * next()) / 20.0);
        }
        let (a, b) = (next() - 0.5, next() - 0.5);
        x[0].push(level * a);
        x[1].push(level * (0.6 * a + 0.4 * b));
    }
    let (r, _) = measure(fs, &x, false);
    let reference = Reference::new(fs, &x);
    let (i, ri) = (r.integrated.unwrap(), reference.integrated().unwrap());
    let (lra, rlra) = (r.lra.unwrap(), reference.loudness_range().unwrap());
    eprintln!("programme: I {i:.5} vs {ri:.5}, LRA {lra:.5} vs {rlra:.5}");
    assert_within("programme I vs reference", i, ri, TOL_EXACT, TOL_EXACT);
    assert_within(
        "programme LRA vs reference",
        lra,
        rlra,
        TOL_EXACT,
        TOL_EXACT,
    );
    assert!(lra > 5.0, "the material should have a real range: {lra}");
}

/// The embedded expected values are the ones in `ebu_expected.json` (when the shared
/// references are present), and every synthesisable case there is covered here.
#[test]
fn expected_values_are_the_published_ones() {
    let Some(dir) = ebu::references_dir() else {
        eprintln!("shared/references not found: skipped");
        return;
    };
    let text = std::fs::read_to_string(dir.join("ebu_expected.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ours = cases();
    for c in json["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let exp = c["expect"].as_object().unwrap();
        if !c["synthesizable"].as_bool().unwrap() || exp.contains_key("true_peak_max") {
            continue; // programme material (Python tests), true peak (tests/true_peak.rs)
        }
        let ours = ours
            .iter()
            .find(|o| o.id == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        for (key, e) in exp {
            let value = |v: &serde_json::Value| v["value"].as_f64().unwrap();
            let found = ours.expect.iter().any(|o| match (key.as_str(), o) {
                ("integrated", Expect::Integrated(v)) => *v == value(e),
                ("momentary_final", Expect::MomentaryFinal(v)) => *v == value(e),
                ("short_term_final", Expect::ShortTermFinal(v)) => *v == value(e),
                ("max_momentary", Expect::MaxMomentary(v)) => *v == value(e),
                ("max_short_term", Expect::MaxShortTerm(v)) => *v == value(e),
                ("lra", Expect::Lra(v)) => *v == value(e),
                ("momentary_constant", Expect::MomentaryConstant { value: v, after_s })
                | ("short_term_constant", Expect::ShortTermConstant { value: v, after_s }) => {
                    *v == value(e) && *after_s == e["after_s"].as_f64().unwrap()
                }
                (
                    "max_momentary_per_segment",
                    Expect::MaxMomentaryPerSegment { segment_s, values },
                )
                | (
                    "max_short_term_per_segment",
                    Expect::MaxShortTermPerSegment { segment_s, values },
                ) => {
                    *segment_s == e["segment_s"].as_f64().unwrap()
                        && values
                            .iter()
                            .zip(e["values"].as_array().unwrap())
                            .all(|(a, b)| *a == b.as_f64().unwrap())
                }
                _ => false,
            });
            assert!(found, "{id}: {key} = {e} not checked here");
        }
    }
}

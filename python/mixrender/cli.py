"""The `mixrender` command: the Python API, mirrored.

Domain errors are caught here only, printed as one line, and turned into exit code 1;
typer's usage errors exit 2.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    # Imported where a bar is drawn: a render on no terminal never needs them.
    from rich.progress import Progress, TaskID

    from .diff import NullTest

from . import __version__, load
from .batch import BatchEvent, JobResult
from .errors import MixError, one_line
from .mixfile import MixFile
from .render import (
    DECODED_BLOCK,
    DEFAULT_BLOCK,
    MAX_BLOCK,
    STEMS_BLOCK,
    RenderReport,
    default_threads,
)

app = typer.Typer(
    name="mixrender",
    help="Render a TOML mix file to a bit-identical stereo file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

MixArg = Annotated[
    Path, typer.Argument(help="The mix file (.toml).", exists=True, dir_okay=False, readable=True)
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead, for scripts.")]

AllowRootOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-root",
        file_okay=False,
        help="Read and write only inside this folder (repeatable): every source, impulse "
        "response and output must resolve inside one, else the job fails.",
    ),
]

NoLockOpt = Annotated[
    bool, typer.Option("--no-lock", help="Do not write the lock file beside each mix.")
]


def _folder_opt(of: str, command: str) -> Any:
    """The -o/--output option of a command that writes a folder beside its target."""
    return typer.Option(
        "-o",
        "--output",
        file_okay=False,
        help=f"Folder of the {of} (default: <name>.{command}/ beside the mix or file).",
    )


#: Renders shorter than this show no progress bar.
_PROGRESS_AFTER_S = 0.5


#: What a command turns into one line and exit 1: the mix's own errors, and the two that
#: hostile input can still cause below them (a file the OS refuses; nesting that Python's
#: recursion limit stops). Anything else is a bug, and keeps its traceback.
_ERRORS = (MixError, OSError, RecursionError)


def _say(console: Console, *parts: str | tuple[str, str]) -> None:
    """Print one line of user-facing text, on one line however wide the terminal.

    Every string is printed as it is, never read as rich markup: a message that names
    `[session]` or `[[track]]` (or a path or track name with brackets) reaches the terminal
    intact. A `(text, style)` pair is printed in that style ("bold red").
    """
    console.print(Text.assemble(*parts), highlight=False, soft_wrap=True, emoji=False)


def _fail(e: BaseException) -> typer.Exit:
    if isinstance(e, OSError) and not isinstance(e, MixError):
        where = f"{e.filename}: " if e.filename else ""
        message = f"{where}{e.strerror or e}"
    elif isinstance(e, RecursionError):
        message = "the input is nested too deeply to read"
    else:
        message = str(e)
    _say(err, ("error:", "bold red"), f" {one_line(message)}")
    return typer.Exit(1)


def _count(n: int, one: str, many: str | None = None) -> str:
    """`1 track`, `2 tracks`."""
    return f"{n} {one if n == 1 else many or one + 's'}"


#: The fewest frames per call into the engine the command line takes (smaller calls cost
#: more in per-call overhead than they can save; the API takes any size).
MIN_BLOCK = 64


def _threads(threads: int | None) -> int:
    """`--threads`, clamped to the machine's cores (more only add switching) with a note."""
    if threads is None:
        return default_threads()
    cores = os.cpu_count() or 1
    if threads > cores:
        _say(err, f"note: --threads {threads} is more than the {cores} cores; using {cores}")
        return cores
    return threads


def _length(frames: int, rate: int) -> str:
    seconds = frames / rate
    return f"{int(seconds // 60)}:{seconds % 60:06.3f} ({frames} frames at {rate} Hz)"


def _db(value: float | None, unit: str) -> str:
    return "silent" if value is None else f"{value:.2f} {unit}"


def _loudness_and_peak(figures: Mapping[str, Any], no_loudness: str, no_peak: str) -> str:
    """ "-14.0 LUFS, true peak -1.00 dBTP" from `figures`' integrated_lufs and
    true_peak_dbtp, with `no_loudness` and `no_peak` standing for a None."""
    loud = figures.get("integrated_lufs")
    tp = figures.get("true_peak_dbtp")
    return (
        f"{no_loudness if loud is None else f'{loud:.1f} LUFS'}, true peak "
        f"{no_peak if tp is None else f'{tp:.2f} dBTP'}"
    )


def _summary(rep: RenderReport) -> None:
    clip: tuple[str | tuple[str, str], ...] = (
        (
            (f"{rep.clipped_samples} samples clipped", "red"),
            f" (peak before the clip {_db(rep.peak_before_clip_dbfs, 'dBFS')})",
        )
        if rep.clipped_samples
        else ("none clipped",)
    )
    lra = "n/a" if rep.loudness_range_lu is None else f"{rep.loudness_range_lu:.1f} LU"
    loudness = (
        "too short to measure"
        if rep.integrated_lufs is None
        else (f"{rep.integrated_lufs:.1f} LUFS integrated, range {lra}")
    )
    if rep.loudness_gain_at is not None:
        loudness += f" (normalised by {rep.loudness_gain_db:+.2f} dB at the {rep.loudness_gain_at})"
    _say(out, "rendered ", (str(rep.output), "bold"))
    _say(out, f"  length    {_length(rep.frames, rep.sample_rate)}")
    _say(out, f"  format    {rep.bit_depth}-bit, stereo")
    _say(out, f"  loudness  {loudness}")
    _say(
        out,
        f"  peaks     {_db(rep.true_peak_dbtp, 'dBTP')} true, "
        f"{_db(rep.sample_peak_dbfs, 'dBFS')} sample; ",
        *clip,
    )
    if rep.stems:
        _say(out, f"  stems     {len(rep.stems)} files")
    _say(out, f"sha256: {rep.audio_sha256}")


class _LazyProgress:
    """A progress bar that appears only once a render has taken more than a moment."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.start < _PROGRESS_AFTER_S or not err.is_terminal:
                return
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("rendering"),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("render", total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def render(
    mix: MixArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output file (.wav, .flac, .aiff); default <mix>.wav."),
    ] = None,
    rough: Annotated[
        bool,
        typer.Option("--rough", help="Faders-only balance: bypass inserts, sends, automation."),
    ] = False,
    block_size: Annotated[
        int | None,
        typer.Option(
            "--block-size",
            min=MIN_BLOCK,
            max=MAX_BLOCK,
            help=f"Frames per call into the engine, {MIN_BLOCK} .. {MAX_BLOCK} (default "
            f"{DEFAULT_BLOCK}; {DECODED_BLOCK} when a source is not WAV, {STEMS_BLOCK} with "
            "--stems); outside that range: exit 2.",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="Engine threads (default: the cores); more than the machine's cores "
            "(os.cpu_count) are clamped to them, with a note.",
        ),
    ] = None,
    stems: Annotated[
        Path | None,
        typer.Option("--stems", help="Also write every direct input of the master to this folder."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write every figure of the render as JSON to this file."),
    ] = None,
    no_lock: NoLockOpt = False,
    allow_root: AllowRootOpt = None,
) -> None:
    """Render MIX to a stereo file, block by block, and print a summary."""
    target = output if output is not None else mix.with_suffix(".wav")
    bar = _LazyProgress()
    try:
        loaded = load(mix, allow_roots=allow_root)
        _warn_overrides(loaded.file)
        rep = loaded.render(
            target,
            rough=rough,
            block_size=block_size,
            threads=_threads(threads),
            stems=stems,
            report=report,
            progress=bar,
            lock=not no_lock,
        )
    except _ERRORS as e:
        raise _fail(e) from None
    finally:
        bar.close()
    _summary(rep)


def _warn_overrides(mix: MixFile) -> None:
    """Static values an automation lane overrides: a warning line each, as `analyze` prints
    its warnings."""
    from .overrides import override_warnings

    for w in override_warnings(mix):
        _say(out, ("warning:", "yellow"), f" {w}")


@app.command()
def check(mix: MixArg) -> None:
    """Validate MIX and open every source's header, without rendering."""
    try:
        m = load(mix)
        m.check()
    except _ERRORS as e:
        raise _fail(e) from None
    _warn_overrides(m.file)
    f = m.file
    _say(
        out,
        f"ok: {mix} ({_count(len(f.tracks), 'track')}, {_count(len(f.buses), 'bus', 'buses')}, "
        f"{_count(len(f.vcas), 'VCA')}, {f.session.sample_rate} Hz)",
    )


@app.command()
def verify(mix: MixArg) -> None:
    """Re-render MIX and compare with its lock file; exit 0 when identical, 1 if not."""
    try:
        result = load(mix).verify()
    except _ERRORS as e:
        raise _fail(e) from None
    if result.identical:
        _say(out, f"identical: {mix} renders exactly as its lock file records")
        return
    for line in result.differences:
        _say(out, ("differs:", "red"), f" {line}")
    raise typer.Exit(1)


@app.command()
def diff(
    a: Annotated[
        str, typer.Argument(help="A mix file, or a git revision of one: HEAD~1:song.toml")
    ],
    b: Annotated[str, typer.Argument(help="The other version.")],
    audio: Annotated[
        bool,
        typer.Option(
            "--audio", help="Render both as `render` delivers them and null-test the files."
        ),
    ] = False,
    stems: Annotated[
        bool,
        typer.Option(
            "--stems", help="With --audio: also null-test every direct input of the master."
        ),
    ] = False,
    section_s: Annotated[
        float, typer.Option("--section-s", min=0.1, help="Section length for loudness, seconds.")
    ] = 10.0,
) -> None:
    """What changed between two versions of a mix; with --audio, what it does to the sound.
    Exits 0 when the versions are the same, 1 when they differ (in text, or with --audio in
    the audio), 2 on a usage error or a version that cannot be read."""
    from .diff import describe, load_version, null_test

    if stems and not audio:
        raise typer.BadParameter("--stems compares the audio: give --audio too")
    try:
        va, vb = load_version(a), load_version(b)
        changes = describe(va, vb)
        for line in changes:
            _say(out, line)
        if not changes:
            _say(out, "no parameter changes")
        if not audio:
            raise typer.Exit(1 if changes else 0)
        null = null_test(va, vb, section_s=section_s, stems=stems)
    except _ERRORS as e:
        _fail(e)
        raise typer.Exit(2) from None
    _print_null(null)
    raise typer.Exit(1 if changes or null.differs else 0)


def _print_null(null: NullTest) -> None:
    gains = null.loudness_gain_db
    if gains != (0.0, 0.0):
        _say(
            out,
            f"audio: as delivered, loudness normalisation {gains[0]:+.2f} dB (A), "
            f"{gains[1]:+.2f} dB (B)",
        )
    if null.identical:
        _say(out, "audio: identical (every bit is equal)")
    else:

        def db(x: float | None) -> str:
            return "silent" if x is None else f"{x:.2f} dBFS"

        _say(out, f"audio: A minus B peaks at {db(null.peak_dbfs)}, RMS {db(null.rms_dbfs)}")
        if null.frames[0] != null.frames[1]:
            _say(out, f"  lengths differ: {null.frames[0]} and {null.frames[1]} frames")
        for start, end, la, lb in null.sections:
            if la is None or lb is None:
                change = "not measurable (silent, or under 0.4 s)"
                if (la is None) != (lb is None):
                    change = (
                        f"{la if la is not None else 'silent'} -> "
                        f"{lb if lb is not None else 'silent'}"
                    )
            else:
                change = f"{lb - la:+.2f} LU ({la:.1f} -> {lb:.1f} LUFS)"
            _say(out, f"  {start:7.1f} - {end:7.1f} s  {change}")
    for stem in null.stems or ():
        if stem.status == "changed":
            peak = "n/a" if stem.peak_dbfs is None else f"{stem.peak_dbfs:.2f} dBFS"
            what = f"changed (A minus B peaks at {peak})"
        elif stem.status == "identical":
            what = "identical (every bit is equal)"
        else:
            what = f"{stem.status} (only {'B' if stem.status == 'new' else 'A'} has it)"
        _say(out, f"stem {stem.name}: {what}")


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of the mix format."""
    import json

    from .schema import json_schema

    print(json.dumps(json_schema(), indent=2))


@app.command()
def analyze(
    target: Annotated[
        Path,
        typer.Argument(
            help="An audio file (its meters), or a mix file (.toml: its gain staging).",
            exists=True,
            dir_okay=False,
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Meter an audio file, or show a mix's gain staging: levels at every point, warnings."""
    import json

    from .analyze import analyze_file
    from .staging import gain_staging

    try:
        if target.suffix.lower() == ".toml":
            staging = gain_staging(load(target).file)
            if as_json:
                print(json.dumps(staging.to_dict(), indent=2, sort_keys=True))
            else:
                _print_staging(staging)
            return
        figures = analyze_file(target)
    except _ERRORS as e:
        raise _fail(e) from None
    # The render report's keys, so scripts read both alike; what a file cannot tell is None.
    figures = {
        "file": str(target),
        "mix": None,
        "output": str(target),
        "audio_sha256": None,
        "clipped_samples": None,
        **figures,
    }
    if as_json:
        print(json.dumps(figures, indent=2, sort_keys=True))
        return
    _print_meters(figures)


def _print_meters(m: dict[str, Any]) -> None:
    def f(key: str, unit: str, digits: int = 1) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{v:.{digits}f} {unit}".strip()

    _say(out, (str(m["file"]), "bold"))
    rows = [
        ("length", _length(m["frames"], m["sample_rate"])),
        ("integrated", f("integrated_lufs", "LUFS")),
        ("range", f("loudness_range_lu", "LU")),
        ("max momentary", f("max_momentary_lufs", "LUFS")),
        ("max short-term", f("max_short_term_lufs", "LUFS")),
        ("true peak", f("true_peak_dbtp", "dBTP", 2)),
        ("sample peak", f("sample_peak_dbfs", "dBFS", 2)),
        ("RMS", f("rms_dbfs", "dBFS")),
        ("crest factor", f("crest_db", "dB")),
        ("correlation", f("correlation", "", 2)),
        ("DC offset", f("dc_offset", "", 5)),
    ]
    for name, value in rows:
        _say(out, f"  {name:<15} {value}")
    bands = m.get("octave_bands_db") or {}
    line = "  ".join(f"{k}: {'-' if v is None else f'{v:.0f}'}" for k, v in bands.items())
    _say(out, f"  {'octave bands':<15} {line} (dB)")


def _print_staging(staging: Any) -> None:
    from rich.table import Table

    def db(v: float | None) -> str:
        return "silent" if v is None else f"{v:6.1f}"

    table = Table("strip", "point", "peak dBFS", "RMS dBFS", title="gain staging")
    for strip in staging.strips:
        for i, p in enumerate(strip.points):
            table.add_row(
                Text(strip.name if i == 0 else ""),
                Text(p.label),
                db(p.peak_dbfs),
                db(p.rms_dbfs),
            )
        table.add_section()
    out.print(table)
    _say(out, f"master: {_loudness_and_peak(staging.master, 'n/a', 'silent')}")
    warnings = [f"{s.name}: {w}" for s in staging.strips for w in s.warnings] + staging.warnings
    for w in warnings:
        _say(out, ("warning:", "yellow"), f" {w}")
    if not warnings:
        _say(out, "no warnings")


@app.command()
def compare(
    target: Annotated[
        Path,
        typer.Argument(
            help="The mix file (.toml: rendered once, in memory) or an audio file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    references: Annotated[
        list[Path],
        typer.Option(
            "--reference",
            help="A reference track (any rate and bit depth); repeat for several.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Compare with reference tracks, loudness-matched: spectrum, regions, tilt, dynamics."""
    import json

    from .compare import compare as compare_files

    try:
        result = compare_files(target, references)
    except _ERRORS as e:
        raise _fail(e) from None
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False))
        return
    _print_comparison(result)


def _print_comparison(c: Any) -> None:
    from rich.table import Table

    from .compare import OCTAVE_NOMINAL

    def db(v: float | None, digits: int = 1) -> str:
        return "n/a" if v is None or v != v else f"{v:+.{digits}f}"

    def num(v: float | None, digits: int = 1) -> str:
        return "n/a" if v is None or v != v else f"{v:.{digits}f}"

    files = Table(
        "file", "LUFS", "LRA LU", "true peak", "PLR dB", "PSR dB", "crest dB", "tilt dB/oct"
    )
    for s in (c.mix, *c.references):
        m = s.meters
        files.add_row(
            Path(s.path).name,
            num(m["integrated_lufs"]),
            num(m["loudness_range_lu"]),
            num(m["true_peak_dbtp"], 2),
            num(s.plr_db),
            num(s.psr_db),
            num(m["crest_db"]),
            num(s.tilt_db_per_octave, 2),
        )
    out.print(files)
    for s, d in zip(c.references, c.loudness_difference_by_reference_db, strict=True):
        out.print(
            f"{Path(s.path).name}: matched to the mix's loudness by {float(d):+.1f} dB",
            highlight=False,
            soft_wrap=True,
        )
    regions = Table(
        "region", "delta dB", "relative dB", title="regions, mix against the references"
    )
    for r in c.regions:
        regions.add_row(r.label, db(r.delta_db), db(r.relative_db))
    out.print(regions)
    bands = "  ".join(
        f"{band['center_hz']:g}: {band['relative_db']:+.1f}" for band in c.to_dict()["bands"]
    )
    out.print(f"third-octave bands, relative dB: {bands}", highlight=False, soft_wrap=True)
    tilts = ", ".join(
        f"{float(t):+.2f} against {Path(s.path).name}"
        for s, t in zip(c.references, c.tilt_delta_by_reference_db_per_octave, strict=True)
    )
    out.print(f"tilt (dB/octave, fitted 50 Hz-16 kHz): {tilts}", highlight=False, soft_wrap=True)
    width = "  ".join(
        f"{hz:g}: {db(v)}"
        for hz, v in zip(OCTAVE_NOMINAL, c.width_delta_by_reference_db[0], strict=True)
    )
    out.print(f"width (side/mid) against the first reference, dB: {width}", highlight=False)
    for note in c.notes:
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    for flag in c.flags:
        out.print(f"[yellow]flag:[/] {flag}", highlight=False, soft_wrap=True)
    if not c.flags:
        out.print("no flags", highlight=False)


@app.command()
def init(
    stems: Annotated[
        Path, typer.Argument(help="A folder of stems (subfolders become buses).", file_okay=False)
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The mix file to write (<folder>.toml).")
    ] = None,
    target_rms_db: Annotated[
        float,
        typer.Option(
            "--target-rms-db",
            max=0.0,
            help="Each stem's active level after clip gain, dBFS: the RMS of its 400 ms blocks "
            "(every 100 ms) above -70 dBFS and above 20 dB under their mean (BS.1770 gating, "
            "no K-weighting), so silence between phrases does not count.",
        ),
    ] = -18.0,
    max_peak_db: Annotated[
        float,
        typer.Option(
            "--max-peak-db",
            max=0.0,
            help="No stem's sample peak above this after clip gain, dBFS; it wins over "
            "--target-rms-db, and the stems it holds are noted.",
        ),
    ] = -3.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing mix file.")] = False,
) -> None:
    """Write a rough mix of a folder of stems: faders at 0 dB, clip gain bringing each stem's
    active level (silence left out) to a target, no sample peak above a ceiling."""
    from .init import rough_mix

    mix_path = output if output is not None else Path(f"{stems.resolve().name}.toml")
    try:
        if mix_path.exists() and not force:
            raise MixError(f"{mix_path}: exists; use --force to overwrite it")
        rough = rough_mix(stems, mix_path, target_rms_db=target_rms_db, max_peak_db=max_peak_db)
        mix_path.parent.mkdir(parents=True, exist_ok=True)
        mix_path.write_text(rough.text)
        load(mix_path)  # what init writes must load
    except MixError as e:
        raise _fail(e) from None
    except OSError as e:
        raise _fail(MixError(f"{mix_path}: cannot write the mix ({e.strerror})")) from None
    except RecursionError as e:
        raise _fail(e) from None
    _say(
        out,
        "wrote ",
        (str(mix_path), "bold"),
        f": {_count(len(rough.stems), 'track')} at {rough.sample_rate} Hz",
    )
    for note in rough.notes:
        _say(out, f"  note: {note}")


@app.command("translate")
def translate_command(
    target: Annotated[
        Path,
        typer.Argument(
            help="A mix file (.toml), or a rendered audio file.", exists=True, dir_okay=False
        ),
    ],
    output: Annotated[Path | None, _folder_opt("previews", "translate")] = None,
    systems: Annotated[
        str | None,
        typer.Option(
            "--systems",
            help="Comma-separated systems (default: all): mono, earbuds, earbuds_sealed, "
            "phone, laptop, car, bt_speaker.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead, for scripts.")
    ] = False,
) -> None:
    """Loudness-matched previews of MIX on playback systems (DIR/<mix>.<system>.wav), with
    what each system does to the loudness, the stems against the mix and mono."""
    from .translate import translate as run_translate

    try:
        result = run_translate(
            target,
            out=output,
            systems=systems.split(",") if systems is not None else None,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    except MixError as e:
        raise _fail(e) from None
    if as_json:
        print(result.to_json())
        return
    _print_translation(result)


def _print_translation(t: Any) -> None:
    from rich.table import Table

    def db(v: float | None, digits: int = 1) -> str:
        return "n/a" if v is None else f"{round(v, digits) + 0.0:+.{digits}f}"  # no "-0.0"

    loud = "silent" if t.loudness_lufs is None else f"{t.loudness_lufs:.1f} LUFS"
    out.print(f"[bold]{t.source}[/]: {loud}, mono loss {db(t.mono_loss_db)} dB", highlight=False)
    if t.target_lufs is not None:
        line = f"previews matched to {t.target_lufs:.1f} LUFS"
        if t.reference_gain_db:
            line += (
                f" ({t.reference_gain_db:+.1f} dB against the mix, so that no preview peaks over "
                f"the ceiling: play the mix {t.reference_gain_db:+.1f} dB to compare)"
            )
        out.print(line, highlight=False)
    if t.pan_law is not None:
        out.print(t.pan_law_effect, highlight=False, soft_wrap=True)
    stems = [s.name for s in t.stems]
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("system", "change dB", "matching dB", "mono loss dB", *stems):
        table.add_column(col, justify="left" if col == "system" else "right")
    for s in t.systems:
        cells = []
        for st in s.stems:
            cell = db(st.relative_db)
            if st.gone:
                cell = f"[red]{cell} gone[/]"
            elif st.flag == "strong":
                cell = f"[red]{cell}[/]"
            elif st.flag == "warning":
                cell = f"[yellow]{cell}[/]"
            cells.append(cell)
        table.add_row(
            s.name, db(s.loudness_change_db), db(s.matching_gain_db), db(s.mono_loss_db), *cells
        )
    out.print(table, highlight=False)
    if stems:
        out.print("stems: change against the whole mix on each system, dB", highlight=False)
    for flag in [*t.flags, *(f for s in t.systems for f in s.flags if not f.startswith("mono: "))]:
        out.print(f"[yellow]flag:[/] {flag}", highlight=False, soft_wrap=True)
    for s in t.systems:
        out.print(f"  {s.preview}  sha256: {s.preview_sha256}", highlight=False, soft_wrap=True)


@app.command("report")
def report_command(
    target: Annotated[
        Path,
        typer.Argument(
            help="A mix file (.toml: rendered once into DIR), or a rendered audio file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    output: Annotated[Path | None, _folder_opt("page", "report")] = None,
    references: Annotated[
        list[Path] | None,
        typer.Option(
            "--reference",
            help="A reference track, loudness-matched into DIR; repeat for several.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    with_translation: Annotated[
        bool,
        typer.Option("--translate", help="Add the translation table and previews."),
    ] = False,
) -> None:
    """One offline page, DIR/index.html (and DIR/report.json): headline figures, waveform,
    loudness over time, spectrum, stereo, gain staging, translation, players."""
    from .report import report as run_report

    try:
        result = run_report(
            target, out=output, references=references or [], translate=with_translation
        )
    except _ERRORS as e:
        raise _fail(e) from None
    _say(out, f"{result.index_html}: {_loudness_and_peak(result.headline, 'silent', 'n/a')}")


def _version(value: bool) -> None:
    if value:
        _say(out, f"mixrender {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Render TOML mix files to bit-identical stereo audio."""


# --- batch --------------------------------------------------------------------------------------

#: A batch's summary table lists every job up to this many; beyond, the failed ones only.
_BATCH_TABLE_ROWS = 50


@app.command("batch")
def batch_command(
    mixes: Annotated[
        list[str],
        typer.Argument(
            help="Mix files, globs (quoted: 'album/**/*.toml') or manifests (job: mix, out).",
            show_default=False,
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.", file_okay=False)],
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Local worker processes (default: the cores)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Render on this Dask scheduler (tcp://HOST:PORT)."),
    ] = None,
    retries: Annotated[
        int,
        typer.Option("--retries", min=0, help="Retries of a job whose failure may pass."),
    ] = 2,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", file_okay=False, help="Cache folder (default: OUTPUT/.cache)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Render every job; neither read nor fill a cache.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", dir_okay=False, help="Write every job's result as JSON."),
    ] = None,
    no_lock: NoLockOpt = False,
    allow_root: AllowRootOpt = None,
) -> None:
    """Render many mixes into OUTPUT (their paths kept relative to their common folder)."""
    from .batch import batch as run_batch
    from .batch import summary

    if cache is not None and no_cache:
        raise typer.BadParameter("give --cache or --no-cache, not both")
    start = time.monotonic()
    bar = _BatchProgress()
    try:
        results = run_batch(
            mixes,
            output,
            workers=workers,
            scheduler=scheduler,
            retries=retries,
            cache=False if no_cache else cache,
            report=report,
            progress=bar,
            lock=not no_lock,
            allow_roots=allow_root,
        )
    except ValueError as e:  # nothing matches, and the like: a usage error
        raise typer.BadParameter(str(e)) from None
    except _ERRORS as e:
        raise _fail(e) from None
    finally:
        bar.close()
    _batch_summary(results, summary(results, time.monotonic() - start))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


class _BatchProgress:
    """The whole batch's progress bar on stderr: jobs finished of all, failed, cached, rate."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,
        )
        self.task: TaskID | None = None

    def __call__(self, event: BatchEvent) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("batch", total=event.total, counts="")
        counts = (
            f"{event.failed} failed, {event.cached} cached, {event.jobs_per_minute:.1f} jobs/min"
        )
        self.bar.update(self.task, completed=event.finished, counts=counts)

    def close(self) -> None:
        self.bar.stop()


def _batch_summary(results: list[JobResult], totals: dict[str, float]) -> None:
    """One row per job (or per failed job, in a large batch), each failure's error in full
    below the table (where a narrow terminal does not fold it), then the totals line."""
    from rich.table import Table

    shown = [r for r in results if len(results) <= _BATCH_TABLE_ROWS or not r.ok]
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("mix", overflow="fold")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("sha256", no_wrap=True)
    colour = {"rendered": "green", "cached": "cyan", "failed": "red"}
    for r in shown:
        table.add_row(
            Text(_shown_path(r.mix)),
            Text(r.status, style=colour[r.status]),
            f"{r.seconds:.2f}",
            (r.audio_sha256 or "")[:16],
        )
    if shown:
        out.print(table, highlight=False)
    if len(shown) < len(results):
        _say(out, f"({len(results) - len(shown)} succeeded jobs not listed)")
    for r in results:
        if not r.ok:
            _say(out, ("failed:", "bold red"), f" {r.error}")
    _say(
        out,
        f"{totals['jobs']:.0f} jobs: {totals['rendered']:.0f} rendered, "
        f"{totals['cached']:.0f} cached, {totals['failed']:.0f} failed "
        f"in {totals['seconds']:.1f} s ({totals['jobs_per_minute']:.1f} jobs/min)",
    )


def _shown_path(path: str) -> str:
    """A path relative to the working folder when it is inside it: shorter, still clickable."""
    p = Path(path)
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else path

"""The `mixrender` command: the Python API, mirrored.

Domain errors are caught here only, printed as one line, and turned into exit code 1;
typer's usage errors exit 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from . import __version__, load
from .errors import MixError
from .render import MAX_BLOCK, RenderReport, default_threads

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

#: Renders shorter than this show no progress bar.
_PROGRESS_AFTER_S = 0.5


def _fail(e: MixError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _length(frames: int, rate: int) -> str:
    seconds = frames / rate
    return f"{int(seconds // 60)}:{seconds % 60:06.3f} ({frames} frames at {rate} Hz)"


def _summary(rep: RenderReport) -> None:
    peak = "silent" if rep.sample_peak_dbfs is None else f"{rep.sample_peak_dbfs:.2f} dBFS"
    clip = (
        f"[red]{rep.clipped_samples} samples clipped[/]" if rep.clipped_samples else "none clipped"
    )
    out.print(f"rendered [bold]{rep.output}[/]", highlight=False)
    out.print(f"  length   {_length(rep.frames, rep.sample_rate)}", highlight=False)
    out.print(f"  format   {rep.bit_depth}-bit, stereo", highlight=False)
    out.print(f"  peak     {peak}, {clip}", highlight=False)
    out.print(f"sha256: {rep.audio_sha256}", highlight=False, soft_wrap=True)


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
        int, typer.Option("--block-size", min=1, max=MAX_BLOCK, help="Frames per block.")
    ] = 4096,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Engine threads (default: the cores).")
    ] = None,
) -> None:
    """Render MIX to a stereo file, block by block, and print a summary."""
    target = output if output is not None else mix.with_suffix(".wav")
    bar = _LazyProgress()
    try:
        rep = load(mix).render(
            target,
            rough=rough,
            block_size=block_size,
            threads=threads or default_threads(),
            progress=bar,
        )
    except MixError as e:
        raise _fail(e) from None
    finally:
        bar.close()
    _summary(rep)


@app.command()
def check(mix: MixArg) -> None:
    """Validate MIX and open every source's header, without rendering."""
    try:
        m = load(mix)
        m.check()
    except MixError as e:
        raise _fail(e) from None
    f = m.file
    out.print(
        f"ok: {mix} ({len(f.tracks)} tracks, {len(f.buses)} buses, {len(f.vcas)} VCAs, "
        f"{f.session.sample_rate} Hz)",
        highlight=False,
    )


def _version(value: bool) -> None:
    if value:
        out.print(f"mixrender {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Render TOML mix files to bit-identical stereo audio."""

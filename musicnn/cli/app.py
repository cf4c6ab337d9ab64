"""The ``musicnn`` group and the plumbing its commands share (options, errors, printing).

Each command maps its options to the parameters of a library function and prints what
it returns.  Heavy libraries (torch, librosa, scikit-learn, numpy) are imported inside
the commands, so ``musicnn --help`` starts fast.  Library errors name Python parameters
(``max_epochs=0``); they are reworded in the command's options (``--epochs 0``) and
printed as one ``Error: ...`` line with exit status 1; a batch that finished but skipped
files exits with status 3.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import functools
import io
import json
import os
import re
import sys
import warnings
from typing import Any, Callable, Iterator

import click

from musicnn import __version__
from musicnn.choices import (FEATURE_KINDS, NORMS, POOLING_STATS,
                             PRESET_NAMES)
from musicnn.errors import MusicnnError, failure_line

#: Exit status of a command that finished but skipped files that failed.
EXIT_SKIPPED = 3


# -- shared plumbing -------------------------------------------------------------------

def _option_flags() -> dict[str, tuple[str, bool]]:
    """The running command's options by Python name: ``{"max_epochs": ("--epochs", False)}``
    (the long flag, and whether it is an on/off flag)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    return {p.name: (max(p.opts, key=len), bool(p.is_flag)) for p in ctx.command.params
            if isinstance(p, click.Option) and p.name and p.opts}


def speak_flags(message: str) -> str:
    """A library message in the words of the running command's options.

    The library names its parameters (``max_epochs=0``, ``split='all'``, ``leave
    max_epochs unset``); the option that sets a parameter has the parameter's name, so
    ``max_epochs=0`` becomes ``--epochs 0``, ``resume=True`` ``--resume``, ``leave
    max_epochs unset`` ``drop --epochs`` and ``raise max_epochs`` ``raise --epochs``.  Names that no option sets stay as they are.
    """
    flags = _option_flags()
    if not flags:
        return message
    names = "|".join(sorted(map(re.escape, flags), key=len, reverse=True))

    def assignment(match: re.Match) -> str:
        flag, is_flag = flags[match.group(1)]
        value = match.group(2)
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return flag if is_flag and value == "True" else f"{flag} {value}"

    message = re.sub(rf"leave ({names}) unset", lambda m: f"drop {flags[m.group(1)][0]}", message)
    message = re.sub(rf"\b(raise|lower|set) ({names})\b(?!=)",
                     lambda m: f"{m.group(1)} {flags[m.group(2)][0]}", message)
    return re.sub(rf"(?<![\w.'\"-])({names})=('[^']*'|\"[^\"]*\"|[^\s,;)\]]+)", assignment, message)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8, as Python holds it
        return f"\\x{code - 0xDC00:02x}"
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """``text`` safe to print on one line: control characters (a newline or a terminal escape
    in a file name) and the bytes of names that are not UTF-8 are shown as escapes
    (``\\n``, ``\\x1b``, ``\\xff``)."""
    return _UNPRINTABLE.sub(lambda m: _escape(m.group()), str(text))


def _escape_on_encode(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler of the command's stdout and stderr: what cannot be encoded (the
    bytes of a file name that is not UTF-8) is written as escapes, never a UnicodeEncodeError."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(_escape(c) if 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04x}"
                   for c in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("musicnn-escape", _escape_on_encode)


def handle_errors(fn: Callable) -> Callable:
    """Turn library errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MusicnnError as exc:
            raise click.ClickException(printable(speak_flags(str(exc)))) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except OSError as exc:
            if exc.filename is None or os.environ.get("MUSICNN_DEBUG"):
                raise click.ClickException(printable(
                    f"unexpected {type(exc).__name__}: {exc} (set MUSICNN_DEBUG=1 to see the traceback)")) from None
            raise click.ClickException(printable(os_error_line(exc))) from None
        except Exception as exc:
            if os.environ.get("MUSICNN_DEBUG"):
                raise
            raise click.ClickException(printable(
                f"unexpected {type(exc).__name__}: {exc} (set MUSICNN_DEBUG=1 to see the traceback)"
            )) from None

    return wrapper


_OS_HINTS = {errno.EACCES: "permission denied; choose a folder you can write to, or change its permissions",
             errno.EPERM: "operation not permitted; choose a folder you can write to",
             errno.ENOSPC: "no space left on the device; free some space or choose another disk",
             errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
             errno.ENOTDIR: "a part of this path is a file, not a folder",
             errno.EEXIST: "a file stands where a folder is needed",
             errno.EISDIR: "this is a folder, where a file was expected"}


def os_error_line(exc: OSError) -> str:
    """One line for a failed file operation: the path, then what went wrong and what to do."""
    reason = _OS_HINTS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{exc.filename}: {reason}"


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def report_failures(failures: list[tuple[str, str]], what: str = "files") -> int:
    """Print skipped files at the end, one line each; return the exit status they imply."""
    if not failures:
        return 0
    echo_err(f"\n{len(failures)} {what} skipped:")
    for path, reason in failures:
        echo_err(f"  {printable(failure_line(path, reason))}")
    return EXIT_SKIPPED



def feature_options(fn: Callable) -> Callable:
    """Options that build a FeatureSpec: a preset plus any parameter to change."""
    options = [
        click.option("--preset", "preset_name", default=None,
                     help=f"Feature preset: {', '.join(PRESET_NAMES)} (default: the model's own)."),
        click.option("--kind", default=None, type=click.Choice(FEATURE_KINDS), help="Feature kind (overrides the preset's)."),
        click.option("--sr", type=int, default=None, help="Sample rate in Hz the audio is resampled to."),
        click.option("--n-fft", type=int, default=None, help="STFT window in samples."),
        click.option("--hop-length", type=int, default=None, help="STFT hop in samples."),
        click.option("--n-mels", type=int, default=None, help="Mel bands."),
        click.option("--n-mfcc", type=int, default=None, help="MFCCs."),
        click.option("--deltas", type=click.IntRange(0, 2), default=None, help="Append MFCC deltas (1) and delta-deltas (2)."),
        click.option("--pooling", default=None,
                     help=f"Comma-separated statistics over frames ({','.join(POOLING_STATS)}); "
                          "'none' for frame sequences."),
        click.option("--duration", type=float, default=None,
                     help="Clip length in seconds (crop/pad); default: the median file duration."),
        click.option("--top-db", type=float, default=None,
                     help="Log-mel range in dB under each clip's loudest cell (default: the preset's; "
                          "presets without one use an absolute -100 dB floor)."),
        click.option("--norm", type=click.Choice(NORMS), default=None,
                     help="Log-mel normalisation: clip (0 dB at the clip's peak), band (each band's mean "
                          "removed), pcen (per-channel energy normalisation instead of the log)."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def spec_from_options(model: str | None, opts: dict[str, Any]):
    from musicnn.pipeline import feature_spec

    return feature_spec(model=model, **opts)


def cache_options(fn: Callable) -> Callable:
    fn = click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")(fn)
    fn = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                      help="Feature cache folder (default: $MUSICNN_CACHE_DIR or the user cache folder).")(fn)
    fn = click.option("--jobs", "-j", type=int, default=1, show_default=True,
                      help="Parallel feature-extraction processes (0: all cores).")(fn)
    return fn


def feature_store(cache_dir: str | None, no_cache: bool):
    from musicnn.store import FeatureStore

    return FeatureStore(cache_dir, enabled=not no_cache)


def parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, lists, true)."""
    params: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[key.strip().replace("-", "_")] = tuple(value) if isinstance(value, list) else value
    return params


# -- the group ---------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="musicnn")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or progress messages.")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """musicnn: classify music audio with the neural networks of the ATIAM course.

    \b
    Typical session:
      musicnn datasets build instruments --out data/instruments
      musicnn train --data data/instruments --model cnn --out runs/cnn.safetensors
      musicnn evaluate runs/cnn.safetensors --data data/instruments --split test
      musicnn classify runs/cnn.safetensors song.wav --top-k 3

    DATA is a folder-per-label tree (DATA/<label>/<file>.wav), a CSV manifest with
    columns path,label[,group,split], or a folder holding manifest.csv.

    Exit status: 0 done, 1 error, 2 usage error, 3 done but some files were skipped,
    130 interrupted. No command replaces an existing output file unless given --force.
    """
    ctx.obj = {"quiet": quiet}
    ctx.with_resource(_one_line_warnings())
    ctx.with_resource(_escaping_streams())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (no source line): 'Warning: ...'."""
    click.echo(f"Warning: {printable(speak_flags(str(message)))}", err=True)


@contextlib.contextmanager
def _escaping_streams() -> Iterator[None]:
    """Write what stdout and stderr cannot encode as escapes while a command runs."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="musicnn-escape")
            changed.append(stream)
    try:
        yield
    finally:
        for stream in changed:
            with contextlib.suppress(ValueError):  # closed meanwhile
                stream.reconfigure(errors="strict")


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print warnings with :func:`_show_warning` while a command runs, then restore the handler."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = previous


def progress_enabled(ctx: click.Context) -> bool:
    return not (ctx.obj or {}).get("quiet", False)



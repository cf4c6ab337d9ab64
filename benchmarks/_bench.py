"""Helpers shared by the benchmark scripts: machine description, timed subprocesses, tables.

Only the standard library is imported here, so that importing this module costs nothing
in the timings of the scripts that use it.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def default_work_dir() -> Path:
    """Where benchmarks keep their corpus and scratch files (``$MUSICNN_BENCH_DIR`` or a temp folder)."""
    env = os.environ.get("MUSICNN_BENCH_DIR")
    return Path(env).expanduser() if env else Path(tempfile.gettempdir()) / "musicnn-bench"


def venv_bin(name: str) -> str:
    """``name`` beside the running interpreter (the virtualenv's ``bin``), else on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _version(module: str) -> str:
    """A package's version, read from its metadata (no import, so no import cost here)."""
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict:
    """The machine and software the figures come from."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "librosa": _version("librosa"),
        "numpy": _version("numpy"),
        "soxr": _version("soxr"),
        "musicnn": _version("musicnn-atiam"),
        "loadavg_at_start": loadavg(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                           "PYTHONDONTWRITEBYTECODE") if k in os.environ},
    }


def print_machine(info: dict) -> None:
    print(f"machine: {info['cpu']}, {info['cores']} cores; {info['platform']}")
    print(f"python {info['python']}; torch {info['torch']}; librosa {info['librosa']}; numpy {info['numpy']}; "
          f"soxr {info['soxr']}; musicnn-atiam {info['musicnn']}")
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items()) or "none set"
    print(f"load average (1/5/15 min) at start: {info['loadavg_at_start']}; thread/bytecode env: {env}")


def command_line() -> str:
    """The command that is running, as one could type it again."""
    import shlex

    exe = sys.executable
    try:
        exe = os.path.relpath(exe)
    except ValueError:
        pass
    script = sys.argv[0]
    try:
        script = os.path.relpath(script)
    except ValueError:
        pass
    return " ".join(shlex.quote(a) for a in [exe, script, *sys.argv[1:]])


@dataclass
class Timed:
    """One timed child process."""

    seconds: float
    cpu_seconds: float  # user + system time of the process and the children it waited for
    stdout: str
    stderr: str
    returncode: int
    peak_rss_mb: float = 0.0  # the process's own peak resident memory (ru_maxrss)


def run_timed(cmd: list[str], *, env: dict | None = None, cwd: str | None = None, check: bool = True) -> Timed:
    """Run a command to completion; wall time measured around the whole process, and its
    CPU time and peak memory from its own resource usage (``os.wait4``)."""
    import os
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = usage.ru_utime + usage.ru_stime
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"command failed with status {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{stdout[-2000:]}\n--- stderr ---\n{stderr[-4000:]}"
        )
    return Timed(dt, cpu, stdout, stderr, proc.returncode, usage.ru_maxrss / 1024.0)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def warm_file_cache(paths: list[Path]) -> int:
    """Read every file once so that timings do not depend on the disk; returns bytes read."""
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 22):
                total += len(chunk)
    return total


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])

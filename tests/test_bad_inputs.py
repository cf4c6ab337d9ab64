"""Bad inputs through every command: one clear line naming the file and the reason, never a
traceback; batches go on, end with a summary and exit status 3; nothing is overwritten
without --force.

The corpus of bad audio is generated here (nothing checked in): empty, zero-frame, truncated
WAV/FLAC/OGG/MP3, text and image files renamed, lying headers, a folder named ``x.wav``, an
unreadable file, NaN and infinity, 10-ms and hour-long silent files, 8 kHz and 192 kHz,
8/24/32-bit float, 6 channels, a name that is not UTF-8, 250-character names, a newline and
``<script>`` in names.  As root, "unreadable" is tested with the capability that lets root
read any file dropped for the calling thread.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import json
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicnn.cli import EXIT_SKIPPED, main

SR = 16000
NON_UTF8 = os.fsdecode(b"\xff\xfe.wav")  # held by Python as surrogate escapes
LONG_NAME = "n" * 246 + ".wav"  # 250 characters
NEWLINE = "new\nline.wav"
SCRIPT = "<script>alert(1)<script>.wav"  # no "/" in a file name

#: Files of the corpus that give a result, and the ones that fail with (a pattern of) their reason.
GOOD = ("tone.wav", "tone.flac", "tone.ogg", "tone.mp3", "short_10ms.wav", "rate_8k.wav", "rate_192k.wav",
        "pcm_u8.wav", "pcm_24.wav", "float32.wav", "six_channels.wav", NON_UTF8, LONG_NAME, NEWLINE, SCRIPT,
        "half.wav", "half.flac", "half.mp3", "lying_size.wav", "lying_channels.wav")
BAD = {
    "empty.wav": r"the file is empty \(0 bytes\)",
    "zero_frames.wav": r"holds no audio samples",
    "text.wav": r"not a readable audio file",
    "image.wav": r"not a readable audio file",
    "head.flac": r"not a readable audio file",
    "head.ogg": r"not a readable audio file",
    "head.mp3": r"not a readable audio file \(format not recognised\)",
    "half.ogg": r"not a readable audio file \(Supported file format but file is malformed\.\)",
    "lying_rate.wav": r"the header declares 1 Hz and 1 channel\(s\); musicnn reads 1000-768000 Hz audio",
    "no_channels.wav": r"not a readable audio file \(Channel count is zero\.\)",
    "nan.wav": r"holds non-finite samples \(NaN or infinity\)",
    "inf.wav": r"holds non-finite samples \(NaN or infinity\)",
    "silent.wav": r"is silent \(peak below -90 dBFS\); nothing to analyse",
    "unreadable.wav": r"permission denied: the file is not readable \(check its permissions\)",
}
HOUR = "silent_hour.wav"  # read only as far as a clip goes by features, train, evaluate
FOLDER = "x.wav"  # a folder: not an item of a folder tree; named as a folder by classify and embed


def _wav(y: np.ndarray, sr: int = SR, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    out[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(out)


def _silent_wav(path: Path, seconds: int, sr: int = 8000) -> None:
    """A 16-bit PCM WAV of ``seconds`` of digital silence, written sparse (no disk used)."""
    n = sr * seconds * 2
    header = (b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
              + b"data" + struct.pack("<I", n))
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + n)


def build_corpus(folder: Path) -> dict[str, Path]:
    """Write every file of the corpus into ``folder``; return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    wav = _wav(tone)
    files: dict[str, bytes] = {
        "tone.wav": wav,
        "tone.flac": _wav(tone, fmt="FLAC"),
        "tone.ogg": _wav(tone, fmt="OGG", subtype="VORBIS"),
        "tone.mp3": _wav(tone, fmt="MP3", subtype="MPEG_LAYER_III"),
        "short_10ms.wav": _wav(tone[: SR // 100]),
        "rate_8k.wav": _wav(tone[:4000], 8000),
        "rate_192k.wav": _wav(np.tile(tone[:4000], 24)[:96000], 192000),
        "pcm_u8.wav": _wav(tone[:8000], subtype="PCM_U8"),
        "pcm_24.wav": _wav(tone[:8000], subtype="PCM_24"),
        "float32.wav": _wav(tone[:8000], subtype="FLOAT"),
        "six_channels.wav": _wav(np.stack([tone[:8000] * (k + 1) / 6 for k in range(6)], axis=1)),
        NON_UTF8: wav, LONG_NAME: wav, NEWLINE: wav, SCRIPT: wav,
        "half.wav": wav[: len(wav) // 2],
        "lying_size.wav": _patched(wav, 40, "<I", 0x7FFFFFF0),  # the data chunk promises 18 hours
        "lying_channels.wav": _patched(wav, 22, "<H", 999),  # 999 channels of a few frames each
        "empty.wav": b"",
        "zero_frames.wav": wav[:44],
        "text.wav": b"path,label\nthis is a text file renamed .wav\n",
        "image.wav": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
                     + bytes(64),
        "lying_rate.wav": _patched(wav, 24, "<I", 1),  # 1 Hz
        "no_channels.wav": _patched(wav, 22, "<H", 0),
        "nan.wav": _wav(np.where(t[:8000] > 0.25, np.nan, 0.1).astype(np.float32), subtype="FLOAT"),
        "inf.wav": _wav(np.where(t[:8000] > 0.25, np.inf, 0.1).astype(np.float32), subtype="FLOAT"),
        "silent.wav": _wav(np.zeros(5 * SR, dtype=np.float32)),
        "unreadable.wav": wav,
    }
    for ext, fmt, subtype in (("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III")):
        data = _wav(tone, fmt=fmt, subtype=subtype)
        files[f"half.{ext}"] = data[: len(data) // 2]
        files[f"head.{ext}"] = data[:40]
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    os.chmod(paths["unreadable.wav"], 0)
    _silent_wav(folder / HOUR, 3600)
    paths[HOUR] = folder / HOUR
    (folder / FOLDER).mkdir()
    paths[FOLDER] = folder / FOLDER
    assert set(paths) == set(GOOD) | set(BAD) | {HOUR, FOLDER}
    return paths


# -- reading without root's privilege -------------------------------------------------------

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def as_ordinary_user():
    """Run the block without the capabilities that let root read any file (this thread only);
    as another user, nothing to do."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("cannot read this thread's capabilities")
    saved = [(d.effective, d.permitted, d.inheritable) for d in data]
    data[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE in this container")
    try:
        yield
    finally:
        for d, (e, p, i) in zip(data, saved):
            d.effective, d.permitted, d.inheritable = e, p, i
        libc.capset(ctypes.byref(header), data)


# -- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory, notes) -> tuple[Path, dict[str, Path]]:
    """A folder-per-label tree: the session's bass and flute notes, and the corpus in bass/."""
    root = tmp_path_factory.mktemp("corpus")
    for family in ("bass", "flute"):
        shutil.copytree(notes / family, root / family)
    return root, build_corpus(root / "bass" / "bad")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One feature cache for the corpus's commands (features, train and evaluate share a spec)."""
    return tmp_path_factory.mktemp("cache")


def cli(args: list, code: int | None = None):
    with as_ordinary_user():
        result = CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def escaped(name: str) -> str:
    """How a file name is printed: newlines, control characters and non-UTF-8 bytes escaped."""
    from musicnn.cli.app import printable

    return printable(name)


def skipped_lines(output: str) -> list[str]:
    """The lines of the summary of skipped files."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"\d+ (files|sounds) skipped:", line))
    return [line[2:] for line in lines[start + 1:] if line.startswith("  ")]


def assert_summary(output: str, bad: dict[str, str], where: dict[str, Path]) -> None:
    """Exactly the files of ``bad`` are skipped, each on one line with its reason."""
    lines = skipped_lines(output)
    assert len(lines) == len(bad), "\n".join(lines)
    assert re.search(rf"^{len(bad)} (files|sounds) skipped:$", output, re.M)
    for name, reason in bad.items():
        mine = [line for line in lines if line.startswith(escaped(str(where[name])) + ":")]
        assert len(mine) == 1, (name, lines)
        assert re.search(reason, mine[0]), (name, mine[0])


@pytest.fixture(scope="module")
def trained(corpus, cache, tmp_path_factory):
    """An MLP trained through the CLI on the tree that holds the corpus."""
    root, files = corpus
    out = tmp_path_factory.mktemp("model") / "mlp.safetensors"
    result = cli(["train", "--data", root, "--model", "mlp", "--out", out, "--epochs", "2", "--duration", "1",
                  "--param", "hidden_layer_sizes=[16]", "--cache-dir", cache])
    return out, result


# -- the corpus through each command -------------------------------------------------------

def test_features_go_on_past_every_bad_file(corpus, cache, tmp_path):
    root, files = corpus
    result = cli(["features", root, "--preset", "mfcc", "--duration", "1", "--cache-dir", cache,
                  "--out", tmp_path / "f.npz"], code=EXIT_SKIPPED)
    assert_summary(result.output, {**BAD, HOUR: BAD["silent.wav"]}, files)
    data = np.load(tmp_path / "f.npz")
    names = {Path(p).name for p in data["paths"]}
    assert set(GOOD) <= names and not names & set(BAD)
    assert np.isfinite(data["X"]).all()
    assert re.search(r"Warning: .*half\.wav: truncated: the header promises 1\.000s but the file holds", result.output)


def test_train_and_evaluate_go_on_past_every_bad_file(corpus, trained, cache):
    root, files = corpus
    out, result = trained
    assert result.exit_code == EXIT_SKIPPED, result.output
    assert_summary(result.output, {**BAD, HOUR: BAD["silent.wav"]}, files)
    assert "wrote model:" in result.output and out.exists()
    result = cli(["evaluate", out, "--data", root, "--cache-dir", cache], code=EXIT_SKIPPED)
    assert_summary(result.output, {**BAD, HOUR: BAD["silent.wav"]}, files)
    n_ok = sum(1 for p in root.rglob("*") if p.is_file()) - len(BAD) - 1
    assert f"(n={n_ok})" in result.output


@pytest.mark.parametrize("command", ["classify", "embed"])
def test_classify_and_embed_go_on_past_every_bad_file(corpus, trained, tmp_path, command):
    root, files = corpus
    model, _ = trained
    missing = root / "bass" / "bad" / "missing.wav"
    args = [model, *(files[n] for n in (*GOOD, *BAD, FOLDER)), missing]
    extra = ["--out", tmp_path / "e.npz"] if command == "embed" else ["--out", tmp_path / "r.csv"]
    result = cli([command, *args, *extra], code=EXIT_SKIPPED)
    bad = {**BAD, FOLDER: r"is a folder, not an audio file", "missing.wav": r"no such file"}
    assert_summary(result.output, bad, {**files, "missing.wav": missing})
    if command == "embed":
        data = np.load(tmp_path / "e.npz")
        assert [Path(p).name for p in data["paths"]] == list(GOOD)
        assert np.isfinite(data["embeddings"]).all()
    else:
        table = [line for line in result.output.splitlines() if line.startswith(str(root))]
        assert [line.split()[0] for line in table] == [escaped(str(files[n])) for n in GOOD]
        with open(tmp_path / "r.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["path"] for r in rows] == [str(files[n]) for n in GOOD]  # names kept byte for byte
        again = cli([command, *args, *extra], code=EXIT_SKIPPED)  # resumes: nothing new to classify
        assert f"skipped {len(GOOD)} files already in" in again.output


@pytest.mark.skipif(not os.environ.get("MUSICNN_LONG_TESTS"), reason="classifies an hour of audio (about 30 s): "
                    "set MUSICNN_LONG_TESTS=1")
def test_an_hour_of_silence_is_streamed_and_refused(corpus, trained):
    root, files = corpus
    result = cli(["classify", trained[0], files[HOUR], files["tone.wav"]], code=EXIT_SKIPPED)
    assert_summary(result.output, {HOUR: BAD["silent.wav"]}, files)


# -- the cases of issue 12, each with its message ----------------------------------------------

def test_an_unreadable_file_is_skipped_with_its_reason(corpus, trained, tmp_path):
    root, files = corpus
    for command in ("classify", "embed"):
        extra = ["--out", tmp_path / "u.npz"] if command == "embed" else []
        result = cli([command, trained[0], files["tone.wav"], files["unreadable.wav"], *extra], code=EXIT_SKIPPED)
        assert skipped_lines(result.output) == [
            f"{files['unreadable.wav']}: permission denied: the file is not readable (check its permissions)"]


def test_names_that_are_not_utf8_or_hold_a_newline_work_everywhere(corpus, trained, tmp_path):
    root, files = corpus
    names = [files[n] for n in (NON_UTF8, NEWLINE, SCRIPT, LONG_NAME)]
    result = cli(["classify", trained[0], *names, "--format", "csv"], code=0)
    rows = list(csv.reader(io.StringIO(result.output)))  # CSV quotes the newline; the non-UTF-8 bytes are escaped
    assert {r[0] for r in rows[1:]} == {str(p).replace(NON_UTF8, "\\xff\\xfe.wav") for p in names}
    result = cli(["classify", trained[0], *names, "--segments", tmp_path / "seg" / "{stem}.json"], code=0)
    assert "\\xff\\xfe.wav" in result.output and "new\\nline.wav" in result.output
    assert len(list((tmp_path / "seg").iterdir())) == 4
    cli(["embed", trained[0], *names, "--out", tmp_path / "e.csv"], code=0)
    with open(tmp_path / "e.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        assert [r["path"] for r in csv.DictReader(fh)] == [str(p) for p in names]


def test_a_manifest_that_lists_a_file_twice(corpus, tmp_path):
    root, files = corpus
    tone = files["tone.wav"]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{tone},bass\n{files['tone.flac']},flute\n{tone},flute\n")
    line = cli(["features", manifest, "--cache-dir", tmp_path / "c"], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: {manifest}, line 4: {tone} is listed again with label 'flute' (line 2: 'bass'); "
                    "list each file once")
    manifest.write_text(f"path,label\n{tone},bass\n{files['tone.flac']},flute\n{tone},bass\n")
    result = cli(["features", manifest, "--cache-dir", tmp_path / "c"], code=0)
    assert f"Warning: {manifest}: 1 row(s) repeat a file listed earlier (line 4 repeats line 2, {tone}); " \
           "each file is counted once" in result.output
    assert "2 files in" in result.output


def test_a_label_with_a_single_file_is_said_to_be_untested(notes, tmp_path):
    data = tmp_path / "data"
    for family in ("bass", "flute"):
        shutil.copytree(notes / family, data / family)
    (data / "solo").mkdir()
    shutil.copy(next((notes / "organ").glob("*.wav")), data / "solo" / "one.wav")
    result = cli(["train", "--data", data, "--model", "mlp", "--out", tmp_path / "m.safetensors", "--epochs", "2",
                  "--param", "hidden_layer_sizes=[8]", "--cache-dir", tmp_path / "c"], code=0)
    assert (f"Warning: {data}: the test split holds no item of label(s) 'solo': it has a single group "
            "(e.g. solo/one.wav), used for training only; their scores are not measured (add files of other "
            "groups to test them)") in result.output
    assert "not measured (no item scored): solo; left out of balanced accuracy and macro F1" in result.output
    result = cli(["evaluate", tmp_path / "m.safetensors", "--data", data, "--split", "test",
                  "--cache-dir", tmp_path / "c"], code=0)
    assert "Warning: no item of label(s) 'solo' among the" in result.output


def test_data_that_is_no_manifest_is_not_quoted(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    line = cli(["features", secret, "--cache-dir", tmp_path / "c"], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: {secret}: missing column(s) path, label; a manifest is a CSV file whose first line "
                    "names the columns 'path' and 'label' (optional 'group', 'split'); its first line is not a row "
                    "of column names (is it a manifest?)")
    assert "root" not in line.replace(str(tmp_path), "")
    (tmp_path / "empty" / "label").mkdir(parents=True)
    line = cli(["features", tmp_path / "empty"], code=1).output.strip().splitlines()[-1]
    assert ".wav, .flac, .ogg, .oga, .mp3, .aif, .aiff, .au" in line


def test_bad_manifests_are_one_line_each(corpus, tmp_path):
    root, files = corpus
    tone, flac = files["tone.wav"], files["tone.flac"]
    m = tmp_path / "m.csv"
    cases = [  # (bytes of the manifest, exit status, what the last line says)
        (b"", 1, "missing column(s) path, label; .*; the file is empty"),
        (b"path,label\n", 1, "the manifest lists no files"),
        (b"file,class\na.wav,x\n", 1, "missing column(s) path, label; .*; found: file, class"),
        (f"path,label\n{tone},bass\n,flute\n".encode(), 1, "line 3: empty 'path' or 'label'"),
        (f"path,label,split\n{tone},bass,holdout\n".encode(), 1, "line 2: split='holdout' must be one of"),
        ("path,label\nbasse_é.wav,bass\n".encode("latin-1"), 1, "not a UTF-8 CSV file"),
        (b"PK\x03\x04\x00\x00binary,zip", 1, "its first line is not a row of column names"),
        (f"\ufeffpath,label\n{tone},bass\n{flac},flute\n".encode(), 0, "2 files in"),  # a spreadsheet's BOM
        (f"path,label\n{tone},bass\n{tmp_path / 'gone.wav'},flute\n".encode(), EXIT_SKIPPED, "gone.wav: no such file"),
    ]
    for data, code, message in cases:
        m.write_bytes(data)
        result = cli(["features", m, "--cache-dir", tmp_path / "c"], code=code)
        assert re.search(message.replace("(s)", r"\(s\)"), result.output), (data, result.output)
        if code == 1:
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"Error: {m}"), result.output


def test_resume_without_a_checkpoint_says_so(notes, tmp_path):
    out = tmp_path / "m.safetensors"
    result = cli(["train", "--data", notes, "--model", "mlp", "--out", out, "--epochs", "1", "--resume",
                  "--param", "hidden_layer_sizes=[8]", "--cache-dir", tmp_path / "c"], code=0)
    assert (f"Warning: --resume but there is no checkpoint at {tmp_path / 'm.checkpoint.safetensors'}: "
            "training starts from the first epoch") in result.output


# -- nothing is overwritten without --force ---------------------------------------------------

def refused(result, path) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == \
        f"Error: {path} already exists; pass --force to replace it, or choose another file"


def test_train_refuses_an_existing_model_or_any_file(notes, tmp_path):
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("three years of work")
    args = ["train", "--data", notes, "--model", "mlp", "--epochs", "1", "--param", "hidden_layer_sizes=[8]",
            "--cache-dir", tmp_path / "c"]
    refused(cli([*args, "--out", thesis]), thesis)
    assert thesis.read_text() == "three years of work"
    model = tmp_path / "m.safetensors"
    (tmp_path / "m.curves.png").write_bytes(b"mine")
    refused(cli([*args, "--out", model]), tmp_path / "m.curves.png")
    assert not model.exists()
    cli([*args, "--out", model, "--force"], code=0)
    first = model.read_bytes()
    refused(cli([*args, "--out", model]), model)
    assert model.read_bytes() == first
    assert "is a directory" in cli([*args, "--out", tmp_path], code=2).output


def test_features_evaluate_segments_and_embed_refuse_existing_files(corpus, trained, tmp_path):
    root, files = corpus
    model = trained[0]
    tone = files["tone.wav"]
    npz = tmp_path / "f.npz"
    npz.write_bytes(b"keep")
    refused(cli(["features", tone.parent, "--out", npz]), npz)
    (tmp_path / "only-bad" / "bass").mkdir(parents=True)
    shutil.copy(files["text.wav"], tmp_path / "only-bad" / "bass" / "text.wav")
    result = cli(["features", tmp_path / "only-bad", "--out", tmp_path / "none.npz"], code=EXIT_SKIPPED)
    assert f"no file gave features; nothing written to {tmp_path / 'none.npz'}" in result.output
    assert not (tmp_path / "none.npz").exists()
    png = tmp_path / "cm.png"
    png.write_bytes(b"keep")
    refused(cli(["evaluate", model, "--data", root, "--confusion", png]), png)
    seg = tmp_path / "tone.csv"
    seg.write_text("keep")
    assert cli(["classify", model, tone, "--segments", seg], code=1).output.strip().splitlines()[-1] == \
        f"Error: {seg} already exists; pass --force to replace it, or choose another segments path"
    cli(["classify", model, tone, "--segments", seg, "--force"], code=0)
    assert seg.read_text().startswith("start,end,label,probability")
    emb = tmp_path / "e.npz"
    emb.write_bytes(b"18 rows of embeddings")
    refused(cli(["embed", model, tone, "--out", emb]), emb)
    result = cli(["embed", model, files["empty.wav"], "--out", emb, "--force"], code=EXIT_SKIPPED)
    assert f"no file could be embedded; nothing written to {emb}" in result.output
    assert emb.read_bytes() == b"18 rows of embeddings"
    assert not list(tmp_path.glob(".tmp-*"))


def test_classify_out_resumes_its_own_results_and_refuses_others(corpus, trained, tmp_path):
    root, files = corpus
    model, tone, flac = trained[0], files["tone.wav"], files["tone.flac"]
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"todo": "buy milk"}\n{"todo": "cut short')
    before = foreign.read_bytes()
    line = cli(["classify", model, tone, "--out", foreign], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: {foreign}: not a results file of this model (line 1 is not a row of classify); "
                    "pass --force to replace it, or write to another results file")
    assert foreign.read_bytes() == before  # not appended to, its last line not cut
    out = tmp_path / "r.csv"
    cli(["classify", model, tone, "--out", out], code=0)
    result = cli(["classify", model, tone, flac, "--out", out], code=0)
    assert "skipped 1 files already in" in result.output and len(out.read_text().splitlines()) == 3
    result = cli(["classify", model, tone, flac, "--out", out, "--aggregate", "max"], code=1)
    assert "its rows were written with --aggregate mean; this run asks for 'max'" in result.output
    other = tmp_path / "other.csv"
    other.write_text("path,label,score,aggregate,n_windows,seconds,cat,dog\n")
    line = cli(["classify", model, tone, "--out", other], code=1).output.strip().splitlines()[-1]
    assert line.endswith("not a results file of this model (other columns: another model's classes?); "
                         "pass --force to replace it, or write to another results file")
    cli(["classify", model, tone, "--out", other, "--force"], code=0)
    assert other.read_text().splitlines()[0].endswith("seconds,bass,flute")
    result = cli(["classify", model, tone, "--out", out, "--force"], code=0)  # its own results: still resumed
    assert "skipped 1 files already in" in result.output


def test_datasets_build_refuses_a_folder_of_other_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("keep")
    args = ["datasets", "build", "instruments", "--out", folder, "--families", "bass", "--max-programs", "1",
            "--pitch-step", "24", "--velocities", "100"]
    line = cli(args, code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: --out {folder!s} already holds files that are not a build of this data set; pass --force "
                    "to write into it anyway, or choose another folder")
    fresh = tmp_path / "built"
    cli([*args[:3], "--out", fresh, *args[5:]], code=0)
    cli([*args[:3], "--out", fresh, *args[5:]], code=0)  # a previous build of the set: rebuilt in place
    cli([*args, "--force"], code=0)
    assert (folder / "thesis.txt").read_text() == "keep" and (folder / "manifest.csv").exists()


def test_recipe_run_refuses_a_run_folder_that_holds_files(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.md").write_text("keep")
    line = cli(["recipe", "run", "instruments", "--out", tmp_path / "run"], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: --out {tmp_path / 'run'!s} already holds files; pass --force to replace them "
                    "or choose another folder")


def test_every_command_names_a_missing_or_odd_input_in_one_line(tmp_path):
    cases = [
        (["info", tmp_path / "nope.safetensors"], 2),
        (["classify", tmp_path / "nope.safetensors", tmp_path / "a.wav"], 2),
        (["datasets", "check", "gtzan", tmp_path / "nowhere"], 1),
        (["datasets", "card", "nonesuch"], 1),
        (["features", tmp_path / "nope"], 2),
        (["datasets", "download", "gtzan", "--to", tmp_path / "dl", "--part", "nope"], 1),
        (["embed", tmp_path / "nope.safetensors", tmp_path / "a.wav", "--out", tmp_path / "e.txt"], 2),
        (["train", "--data", tmp_path, "--model", "kazoo", "--out", tmp_path / "m.safetensors"], 1),
    ]
    for args, code in cases:
        result = cli(args, code=code)
        assert result.output.strip().splitlines()[-1].startswith("Error: "), result.output


# --------------------------------------------------------------------------- the newer commands
def test_timbre_map_names_bad_sounds_once_and_never_quotes_a_foreign_file(corpus, tmp_path):
    secret = tmp_path / "notes.txt"
    secret.write_text("root:x:0:0:secret\n")
    line = cli(["timbre-map", secret, "--out", tmp_path / "m1"], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: {secret}: a manifest of sounds needs a 'path' column (and, optionally, 'label'); "
                    "its first line is not a row of column names (is it a manifest?)")
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    line = cli(["timbre-map", text, "--out", tmp_path / "m2"], code=1).output.strip().splitlines()[-1]
    assert line.startswith(f"Error: {text}: no sound could be described, out of 1; first failure: {text}: not a ")
    assert line.count(str(text)) == 2
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()


def test_compare_refuses_a_folder_that_is_not_a_comparison(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("keep")
    line = cli(["compare", "instruments", "--models", "perceptron", "--out", folder, "--data-dir", tmp_path / "d"],
               code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: --out {folder} already holds files and is not a comparison (it has no results.jsonl); "
                    "pass --force to write into it anyway, or choose another folder")
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"] and not (tmp_path / "d").exists()
    line = cli(["compare", "instruments", "--models", ",", "--out", tmp_path / "c"], code=1).output.strip()
    assert line.splitlines()[-1] == "Error: models is empty: name at least one family of `musicnn models`, e.g. mlp and cnn"


def test_a_bad_recipe_value_fails_before_any_data_is_built(tmp_path):
    args = ["recipe", "run", "instruments", "--set", "model.params.channels=[0]", "--out", tmp_path / "run",
            "--data-dir", tmp_path / "d"]
    line = cli(args, code=1).output.strip().splitlines()[-1]
    assert line == "Error: recipe instruments: model.params: channels=(0,) must be a non-empty tuple of positive integers"
    assert not (tmp_path / "d").exists() and not (tmp_path / "run").exists()


def test_an_output_place_that_cannot_be_made_is_one_line_before_any_work(notes, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    line = cli(["recipe", "run", "instruments", "--out", blocker / "run", "--data-dir", tmp_path / "d"],
               code=1).output.strip().splitlines()[-1]
    assert line == f"Error: {blocker}: a file stands where a folder is needed"
    assert not (tmp_path / "d").exists()
    line = cli(["features", notes, "--cache-dir", blocker / "cache"], code=1).output.strip().splitlines()[-1]
    assert line == (f"Error: --cache-dir {blocker / 'cache'}: the feature cache cannot be made there (Not a directory); "
                    "choose another folder, or disable the cache")
    assert blocker.read_text() == "keep"


def test_timbre_map_goes_on_past_every_bad_file(corpus, cache, tmp_path):
    root, files = corpus
    result = cli(["timbre-map", root, "--out", tmp_path / "map", "--cache-dir", cache], code=EXIT_SKIPPED)
    assert_summary(result.output, {**BAD, HOUR: BAD["silent.wav"]}, files)
    assert (tmp_path / "map" / "map.html").is_file() and (tmp_path / "map" / "map.json").is_file()


@pytest.fixture(scope="module")
def corpus_recipe(corpus, tmp_path_factory) -> Path:
    """A recipe on the tree that holds the corpus: an MLP on pooled MFCC."""
    root, _ = corpus
    path = tmp_path_factory.mktemp("recipe") / "corpus.toml"
    path.write_text(f'''name = "corpus"
[data]
path = {json.dumps(str(root))}
[split]
protocol = "group"
test_size = 0.3
val_size = 0.0
[features]
preset = "mfcc"
duration = 1.0
[model]
family = "mlp"
[model.params]
hidden_layer_sizes = [16]
[training]
max_epochs = 2
''', encoding="utf-8")
    return path


def test_recipe_run_and_compare_go_on_past_every_bad_file(corpus, corpus_recipe, cache, tmp_path):
    root, files = corpus
    bad = {**BAD, HOUR: BAD["silent.wav"]}
    result = cli(["recipe", "run", corpus_recipe, "--out", tmp_path / "run", "--cache-dir", cache], code=EXIT_SKIPPED)
    assert_summary(result.output, bad, files)
    assert (tmp_path / "run" / "model.safetensors").is_file()
    result = cli(["compare", corpus_recipe, "--models", "mlp,perceptron", "--seeds", "0", "--out", tmp_path / "cmp",
                  "--cache-dir", cache], code=EXIT_SKIPPED)
    assert_summary(result.output, bad, files)
    assert "| mlp |" in result.output and "| perceptron |" in result.output

"""Tests of the SoundFont reader and the embedded instrument set (musicnn.data.render)."""

from __future__ import annotations

import csv
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicnn.data.render import (
    FAMILIES,
    MANIFEST_COLUMNS,
    PEAK,
    PITCH_RANGES,
    build_instruments,
    default_soundfont,
)
from musicnn.data.soundfont import program_samples, sample_sharing_groups
from musicnn.errors import ConfigError, DataError

SMALL = dict(
    families=("keyboard", "guitar", "bass"),
    max_programs_per_family=2,
    pitch_step=12,
    velocities=(100,),
    sr=16000,
    clip_duration=1.5,
    progress=False,
)


def _expected_notes() -> list[tuple[str, int, int]]:
    out = []
    for family in ("bass", "guitar", "keyboard"):
        for program in FAMILIES[family][:2]:
            lo, hi = PITCH_RANGES[program]
            out += [(family, program, pitch) for pitch in range(lo, hi + 1, 12)]
    return out


def _read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("instruments")
    return out, build_instruments(out, **SMALL)


# ---------------------------------------------------------------- a synthetic SoundFont


def _chunk(cid: bytes, body: bytes) -> bytes:
    return struct.pack("<4sI", cid, len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _fake_sf2(presets: list[tuple[int, int, list[int]]], instruments: list[list[int]],
              n_samples: int, n_points: int = 64, sample_end: int = 16) -> bytes:
    """A SoundFont of silence: ``presets`` are (program, bank, instrument indices),
    ``instruments`` the sample indices of each instrument (one zone per sample), each
    sample spans points 0..``sample_end`` of ``n_points`` zeros."""
    phdr, pbag, pgen = b"", b"", b""
    n_bag = n_gen = 0
    for program, bank, insts in presets:
        phdr += struct.pack("<20sHHHIII", b"preset", program, bank, n_bag, 0, 0, 0)
        for k in insts:
            pbag += struct.pack("<HH", n_gen, 0)
            pgen += struct.pack("<HH", 41, k)
            n_bag, n_gen = n_bag + 1, n_gen + 1
    phdr += struct.pack("<20sHHHIII", b"EOP", 0, 0, n_bag, 0, 0, 0)
    pbag += struct.pack("<HH", n_gen, 0)
    pgen += struct.pack("<HH", 0, 0)
    inst, ibag, igen = b"", b"", b""
    n_bag = n_gen = 0
    for samples in instruments:
        inst += struct.pack("<20sH", b"inst", n_bag)
        for s in samples:
            ibag += struct.pack("<HH", n_gen, 0)
            igen += struct.pack("<HH", 43, 0x7F00) + struct.pack("<HH", 53, s)  # keyRange, sampleID
            n_bag, n_gen = n_bag + 1, n_gen + 2
    inst += struct.pack("<20sH", b"EOI", n_bag)
    ibag += struct.pack("<HH", n_gen, 0)
    igen += struct.pack("<HH", 0, 0)
    shdr = b"".join(
        struct.pack("<20sIIIIIBbHH", b"s%d" % i, 0, sample_end, 0, 0, 44100, 60, 0, 0, 1)
        for i in range(n_samples + 1)  # + terminal 'EOS'
    )
    pmod = imod = b"\0" * 10
    pdta = b"pdta" + b"".join(
        _chunk(c, b)
        for c, b in [(b"phdr", phdr), (b"pbag", pbag), (b"pmod", pmod), (b"pgen", pgen),
                     (b"inst", inst), (b"ibag", ibag), (b"imod", imod), (b"igen", igen),
                     (b"shdr", shdr)]
    )
    info = b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1))
    sdta = b"sdta" + _chunk(b"smpl", b"\0\0" * n_points)
    body = b"sfbk" + _chunk(b"LIST", info) + _chunk(b"LIST", sdta)
    body += _chunk(b"LIST", pdta)
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---------------------------------------------------------------- the SoundFont reader


def test_program_samples_synthetic(tmp_path):
    path = tmp_path / "fake.sf2"
    path.write_bytes(_fake_sf2(
        presets=[(0, 0, [0]), (1, 0, [1]), (2, 0, [2]), (3, 0, [3, 3]), (0, 128, [0])],
        instruments=[[0, 1], [1, 2], [2], [3]],
        n_samples=4,
    ))
    assert program_samples(path) == {
        0: frozenset({0, 1}), 1: frozenset({1, 2}), 2: frozenset({2}), 3: frozenset({3})
    }  # bank 128 (percussion) and the terminal records are left out
    # 0-1 share sample 1 and 1-2 sample 2: one group, though 0 and 2 share nothing;
    # 5 is not in the file and forms a group of its own
    assert sample_sharing_groups(path, [3, 2, 1, 0, 5]) == {
        0: "p000+p001+p002", 1: "p000+p001+p002", 2: "p000+p001+p002", 3: "p003", 5: "p005"
    }
    assert sample_sharing_groups(path, [0, 2]) == {0: "p000", 2: "p002"}


def test_program_samples_timgm6mb():
    samples = program_samples(default_soundfont())
    assert sorted(samples) == list(range(128))
    assert all(samples.values())
    used = sorted(p for programs in FAMILIES.values() for p in programs)
    pairs = [(a, b) for a, b in itertools.combinations(used, 2) if samples[a] & samples[b]]
    # the pianos are built from one set of samples; so are nylon and steel guitars
    assert {(0, 1), (0, 2), (1, 2), (24, 25), (72, 74)} <= set(pairs)
    assert 30 <= len(pairs) <= 45  # 38 in the TimGM6mb of pretty_midi 0.2.11
    groups = sample_sharing_groups(default_soundfont(), used)
    for a, b in pairs:
        assert groups[a] == groups[b]
    assert groups[40] == groups[41]  # violin and viola share samples
    assert groups[73] == "p073"


@pytest.mark.parametrize(
    "data",
    [b"", b"not a soundfont at all", b"RIFF\x10\0\0\0WAVEfmt ", None],
    ids=["empty", "text", "wav-header", "truncated"],
)
def test_corrupt_soundfont_raises_data_error(tmp_path, data):
    path = tmp_path / "broken.sf2"
    if data is None:
        data = default_soundfont().read_bytes()[:5000]
    path.write_bytes(data)
    with pytest.raises(DataError, match="broken.sf2"):
        program_samples(path)
    with pytest.raises(DataError, match="broken.sf2"):
        build_instruments(tmp_path / "out", soundfont=path, progress=False)


@pytest.mark.parametrize(
    "points",
    [dict(n_points=0, sample_end=0), dict(n_points=64, sample_end=65)],
    ids=["no-sample-data", "sample-past-the-data"],
)
def test_sample_table_pointing_outside_the_data_raises_data_error(tmp_path, points):
    path = tmp_path / "hollow.sf2"
    path.write_bytes(_fake_sf2(presets=[(0, 0, [0])], instruments=[[0]], n_samples=1, **points))
    with pytest.raises(DataError, match="hollow.sf2"):
        program_samples(path)


def test_missing_soundfont_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="nowhere.sf2"):
        build_instruments(tmp_path / "out", soundfont=tmp_path / "nowhere.sf2", progress=False)
    with pytest.raises(DataError, match="nowhere.sf2"):
        program_samples(tmp_path / "nowhere.sf2")


# ---------------------------------------------------------------- the rendered set


def test_manifest(small_build):
    out, report = small_build
    expected = _expected_notes()
    columns, rows = _read_manifest(out / "manifest.csv")
    assert report.manifest == out / "manifest.csv"
    assert columns == list(MANIFEST_COLUMNS)
    assert report.n_written == len(rows) == len(expected) - len(report.skipped)
    assert len(rows) >= len(expected) - 2
    assert {(r["label"], int(r["program"]), int(r["pitch"])) for r in rows} <= set(expected)
    for r in rows:
        family, program, pitch = r["label"], int(r["program"]), int(r["pitch"])
        assert r["path"] == f"{family}/{family}_p{program:03d}_n{pitch:03d}_v100.wav"
        assert (out / r["path"]).is_file()
        assert r["velocity"] == "100" and r["soundfont"] == "TimGM6mb.sf2"
    assert not list(out.glob("*.part")) and not list(out.glob(".*"))


def test_clips_are_mono_wavs_of_the_right_length(small_build):
    out, _ = small_build
    _, rows = _read_manifest(out / "manifest.csv")
    for r in rows:
        info = sf.info(out / r["path"])
        assert (info.format, info.subtype) == ("WAV", "PCM_16")
        assert info.channels == 1 and info.samplerate == 16000 and info.frames == 24000
    y, _ = sf.read(out / rows[0]["path"])
    assert abs(np.max(np.abs(y)) - PEAK) < 1e-3
    assert np.sqrt(np.mean(y[: 16000 // 2] ** 2)) > 0.01  # the note sounds from the onset


def test_groups_follow_sample_sharing(small_build):
    out, _ = small_build
    _, rows = _read_manifest(out / "manifest.csv")
    group = {int(r["program"]): r["group"] for r in rows}
    assert sorted(group) == [0, 1, 24, 25, 32, 33]
    samples = program_samples(default_soundfont())
    for a, b in itertools.combinations(group, 2):
        if samples[a] & samples[b]:
            assert group[a] == group[b]
    assert group[0] == group[1] == "p000+p001"
    assert group[24] == group[25] == "p024+p025"
    for program, name in group.items():
        assert f"p{program:03d}" in name.split("+")


def test_build_is_deterministic(small_build, tmp_path):
    out, _ = small_build
    build_instruments(tmp_path, **SMALL)
    assert _tree_bytes(tmp_path) == _tree_bytes(out)


def test_parallel_build_gives_the_same_bytes(small_build, tmp_path):
    out, _ = small_build
    build_instruments(tmp_path, **{**SMALL, "families": ("guitar",)}, n_jobs=2)
    built = _tree_bytes(tmp_path)
    assert set(built) - {"manifest.csv"} and all(k.startswith("guitar/") for k in built
                                                 if k != "manifest.csv")
    for name, data in built.items():
        if name != "manifest.csv":
            assert data == (out / name).read_bytes()


def test_unknown_family_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="'drums'.*valid ones: bass, brass"):
        build_instruments(tmp_path, families=["keyboard", "drums"], progress=False)


@pytest.mark.parametrize(
    "option",
    [{"velocities": (0,)}, {"velocities": ()}, {"pitch_step": 0}, {"sr": 0},
     {"clip_duration": 0.0}, {"max_programs_per_family": 0}, {"n_jobs": 0}],
)
def test_bad_options_raise_config_error(tmp_path, option):
    with pytest.raises(ConfigError):
        build_instruments(tmp_path, progress=False, **option)


def test_programs_missing_from_the_soundfont_are_skipped(tmp_path):
    path = tmp_path / "pianos.sf2"
    path.write_bytes(_fake_sf2(presets=[(0, 0, [0])], instruments=[[0]], n_samples=1))
    report = build_instruments(tmp_path / "out", soundfont=path, families=["vocal"],
                               progress=False)
    assert report.n_written == 0
    assert [what for what, _ in report.skipped] == [
        f"vocal program {p} (pianos.sf2)" for p in FAMILIES["vocal"]
    ]
    columns, rows = _read_manifest(report.manifest)
    assert columns == list(MANIFEST_COLUMNS) and rows == []

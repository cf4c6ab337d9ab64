"""The data set readers, on small trees in each published layout made of real rendered notes,
and the download, against a local HTTP server and an unreachable one (no network needed)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import socket
import tarfile
import threading
import uuid
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from musicnn.cli import main
from musicnn.data import Collection
from musicnn.data.readers import READERS, REMOTES, Remote, download, read_dataset, reader_options
from musicnn.data.readers.gtzan import GENRES
from musicnn.data.readers.irmas import INSTRUMENTS
from musicnn.data.readers.tinysol import COLUMNS as TINYSOL_COLUMNS
from musicnn.errors import ConfigError, DataError

_NOTE_RE = re.compile(r"(?P<family>[a-z]+)_p(?P<program>\d+)_n(?P<pitch>\d+)_v(?P<velocity>\d+)\.wav$")


def _notes(note_paths):
    """(path, family, program, pitch, velocity) of the session's rendered notes."""
    out = []
    for p in note_paths:
        m = _NOTE_RE.match(p.name)
        out.append((p, m["family"], int(m["program"]), int(m["pitch"]), int(m["velocity"])))
    return out


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def _one_line_error(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _run(args, code=0):
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


# -- GTZAN ---------------------------------------------------------------------------------

def make_gtzan(note_paths, root: Path, per_genre: int = 3, ext: str = "wav") -> Path:
    """``root/genres/<genre>/<genre>.000NN.<ext>``, as the archive holds it."""
    paths = sorted(note_paths)
    for g, genre in enumerate(GENRES):
        for n in range(per_genre):
            _copy(paths[(g * per_genre + n) % len(paths)], root / "genres" / genre / f"{genre}.{n:05d}.{ext}")
    return root


def write_gtzan_split(folder: Path, lists: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for fname, names in lists.items():
        (folder / fname).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return folder


def test_gtzan_reads_genres_with_each_file_its_own_group(note_paths, tmp_path):
    root = make_gtzan(note_paths, tmp_path / "gtzan")
    coll = read_dataset("gtzan", root)
    assert isinstance(coll, Collection) and len(coll) == 30
    assert coll.labels == sorted(GENRES)
    assert len(set(coll.groups)) == len(coll) and all(it.split is None for it in coll)
    assert all(Path(it.path).parent.name == it.label for it in coll)
    # the genres folder itself, and the original archive's .au names, read the same
    assert sorted(read_dataset("gtzan", root / "genres").paths) == sorted(coll.paths)
    au = make_gtzan(note_paths, tmp_path / "au", per_genre=1, ext="au")
    assert read_dataset("gtzan", au).counts() == {g: 1 for g in sorted(GENRES)}


def test_gtzan_split_file_gives_the_published_split_and_leaves_out_unlisted_files(note_paths, tmp_path):
    root = make_gtzan(note_paths, tmp_path / "gtzan")
    lists = {"train_filtered.txt": [f"{g}/{g}.00000.wav" for g in GENRES],
             "valid_filtered.txt": [f"{g}/{g}.00001.wav" for g in GENRES[:5]],
             "test_filtered.txt": [f"{g}/{g}.00002.wav" for g in GENRES]}
    splits = write_gtzan_split(tmp_path / "splits", lists)
    for given in (splits, splits / "test_filtered.txt"):  # the folder, or one of the lists
        coll = read_dataset("gtzan", root, split_file=given)
        assert len(coll) == 25  # 5 of the 00001 files are in no list: left out
        assert Counter(it.split for it in coll) == {"train": 10, "validation": 5, "test": 10}
        parts = coll.split(test_size=0.5, val_size=0.2, seed=0)
        assert sorted(Path(it.path).name for it in parts["test"]) == sorted(
            Path(n).name for n in lists["test_filtered.txt"])


def test_gtzan_names_what_is_wrong(note_paths, tmp_path):
    root = make_gtzan(note_paths, tmp_path / "gtzan", per_genre=2)
    shutil.rmtree(root / "genres" / "reggae")
    with pytest.raises(DataError, match=r"genres: genre folder\(s\) reggae missing"):
        read_dataset("gtzan", root)
    root = make_gtzan(note_paths, tmp_path / "g2", per_genre=2)
    bad = _copy(note_paths[0], root / "genres" / "jazz" / "rock.00007.wav")  # another genre's file
    with pytest.raises(DataError, match=re.escape(str(bad))):
        read_dataset("gtzan", root)
    bad.unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no GTZAN genre folders here"):
        read_dataset("gtzan", tmp_path / "empty")
    splits = write_gtzan_split(tmp_path / "s", {"train_filtered.txt": ["blues/blues.00000.wav"],
                                                "valid_filtered.txt": ["pop/pop.00042.wav"],
                                                "test_filtered.txt": []})
    with pytest.raises(DataError, match=r"names 1 file\(s\) that .* lacks: pop\.00042"):
        read_dataset("gtzan", root, split_file=splits)
    (splits / "valid_filtered.txt").write_text("pop/pop.00001.wav\nnot a file name\n")
    with pytest.raises(DataError, match=r"valid_filtered\.txt, line 2: 'not a file name'"):
        read_dataset("gtzan", root, split_file=splits)
    (splits / "valid_filtered.txt").write_text("pop/pop.00001.wav\n")
    (splits / "test_filtered.txt").unlink()
    with pytest.raises(DataError, match=r"test_filtered\.txt: missing"):
        read_dataset("gtzan", root, split_file=splits)


# -- NSynth --------------------------------------------------------------------------------

def make_nsynth(note_paths, root: Path) -> dict[str, set[str]]:
    """``root/nsynth-<subset>/{examples.json, audio/<note_str>.wav}``; the three programs of each
    family go to train, valid and test.  Returns the instruments of each subset."""
    notes = _notes(note_paths)
    programs = {fam: sorted({p for _, f, p, _, _ in notes if f == fam}) for _, fam, _, _, _ in notes}
    instruments: dict[str, set[str]] = {"train": set(), "valid": set(), "test": set()}
    examples: dict[str, dict] = {s: {} for s in instruments}
    for path, fam, program, pitch, velocity in notes:
        subset = ("train", "valid", "test")[programs[fam].index(program) % 3]
        source = "acoustic" if program % 2 else "electronic"
        instrument = f"{fam}_{source}_{program:03d}"
        note_str = f"{instrument}-{pitch:03d}-{velocity:03d}"
        examples[subset][note_str] = {
            "note": len(examples[subset]), "note_str": note_str, "instrument": program, "instrument_str": instrument,
            "pitch": pitch, "velocity": velocity, "sample_rate": 16000, "qualities": [0] * 10, "qualities_str": [],
            "instrument_family": 0, "instrument_family_str": fam, "instrument_source": program % 2,
            "instrument_source_str": source}
        _copy(path, root / f"nsynth-{subset}" / "audio" / f"{note_str}.wav")
        instruments[subset].add(instrument)
    for subset, ex in examples.items():
        (root / f"nsynth-{subset}" / "examples.json").write_text(json.dumps(ex, indent=2), encoding="utf-8")
    return instruments


def test_nsynth_reads_family_labels_instrument_groups_and_official_splits(note_paths, tmp_path):
    instruments = make_nsynth(note_paths, tmp_path / "nsynth")
    coll = read_dataset("nsynth", tmp_path / "nsynth")
    assert len(coll) == len(note_paths)
    assert coll.labels == ["bass", "flute", "guitar", "organ"]
    by_split = {s: {it.group for it in coll if it.split == s} for s in ("train", "validation", "test")}
    assert by_split == {"train": instruments["train"], "validation": instruments["valid"],
                        "test": instruments["test"]}
    parts = coll.split(seed=0)  # the official split is kept
    assert {s: set(p.groups) for s, p in parts.items()} == by_split
    it = coll[0]
    assert it.label in it.group and {"instrument_source", "pitch", "velocity", "subset"} <= set(it.meta)
    test_only = read_dataset("nsynth", tmp_path / "nsynth", subsets=["test"])
    assert {it.split for it in test_only} == {"test"}
    assert read_dataset("nsynth", tmp_path / "nsynth" / "nsynth-valid").paths == [
        it.path for it in coll if it.split == "validation"]
    by_source = read_dataset("nsynth", tmp_path / "nsynth", label="instrument_source_str", sources=["acoustic"])
    assert by_source.labels == ["acoustic"] and 0 < len(by_source) < len(coll)


def test_nsynth_names_what_is_wrong(note_paths, tmp_path):
    root = tmp_path / "nsynth"
    make_nsynth(note_paths, root)
    with pytest.raises(ConfigError, match=r"label='family' is not an annotation .*'instrument_family_str'"):
        read_dataset("nsynth", root, label="family")
    with pytest.raises(ConfigError, match="subsets=.*'train', 'valid', 'test'"):
        read_dataset("nsynth", root, subsets=["training"])
    wav = next((root / "nsynth-test" / "audio").iterdir())
    wav.unlink()
    with pytest.raises(DataError, match=rf"examples\.json lists 1 of its \d+ audio files .*{re.escape(wav.name)}"):
        read_dataset("nsynth", root)
    meta = root / "nsynth-valid" / "examples.json"
    ex = json.loads(meta.read_text())
    del ex[next(iter(ex))]["instrument_str"]
    meta.write_text(json.dumps(ex))
    with pytest.raises(DataError, match=r"nsynth-valid/examples\.json: note '.*' lacks instrument_str"):
        read_dataset("nsynth", root, subsets=["valid"])
    meta.write_text(json.dumps(ex)[:-10])
    with pytest.raises(DataError, match=r"nsynth-valid/examples\.json, line 1: NSynth's examples\.json is not valid JSON"):
        read_dataset("nsynth", root, subsets=["valid"])
    (root / "nsynth-train" / "examples.json").unlink()
    with pytest.raises(DataError, match=r"nsynth-train/examples\.json: missing"):
        read_dataset("nsynth", root, subsets=["train"])
    with pytest.raises(DataError, match="no NSynth subset here"):
        read_dataset("nsynth", note_paths[0].parent)


# -- TinySOL -------------------------------------------------------------------------------

_TINYSOL_INSTRUMENTS = {"bass": ("Strings", "Contrabass", "Cb"), "flute": ("Winds", "Flute", "Fl"),
                        "guitar": ("Strings", "Violin", "Vn"), "organ": ("Keyboards", "Accordion", "Acc")}


def make_tinysol(note_paths, root: Path) -> Path:
    """``root/TinySOL_metadata.csv`` and ``root/TinySOL/<Family>/<Instrument>/ordinario/<file>.wav``."""
    rows = []
    for i, (path, fam, program, pitch, velocity) in enumerate(_notes(note_paths)):
        family, instrument, abbr = _TINYSOL_INSTRUMENTS[fam]
        dyn = ("pp", "mf", "ff")[i % 3]
        rel = f"{family}/{instrument}/ordinario/{abbr}-ord-{pitch}-{dyn}-{program}c-N.wav"
        _copy(path, root / "TinySOL" / rel)
        rows.append([rel, str(i % 5), family, abbr, instrument, "ord", "ordinario", f"P{pitch}", str(pitch),
                     dyn, str(i % 3), "0", "", "FALSE"])
    with open(root / "TinySOL_metadata.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TINYSOL_COLUMNS)
        w.writerows(rows)
    return root


def test_tinysol_reads_instruments_and_its_folds(note_paths, tmp_path):
    root = make_tinysol(note_paths, tmp_path / "tinysol")
    coll = read_dataset("tinysol", root)
    assert coll.labels == ["Accordion", "Contrabass", "Flute", "Violin"] and len(coll) == len(note_paths)
    assert {it.split for it in coll if it.meta["fold"] == "0"} == {"test"}
    assert {it.split for it in coll if it.meta["fold"] != "0"} == {"train"}
    assert len(set(coll.groups)) == len(coll)
    two = read_dataset("tinysol", root, test_fold=3, val_fold=4)
    assert Counter((it.meta["fold"], it.split) for it in two).keys() == {
        ("0", "train"), ("1", "train"), ("2", "train"), ("3", "test"), ("4", "validation")}
    free = read_dataset("tinysol", root, test_fold=None)
    assert {it.split for it in free} == {None} and {it.meta["fold"] for it in free} == set("01234")
    assert read_dataset("tinysol", root, label="Family").labels == ["Keyboards", "Strings", "Winds"]
    # the CSV elsewhere, the audio under the root
    moved = shutil.move(str(root / "TinySOL_metadata.csv"), str(tmp_path / "meta.csv"))
    assert len(read_dataset("tinysol", root, metadata=moved)) == len(coll)


def test_tinysol_names_what_is_wrong(note_paths, tmp_path):
    root = make_tinysol(note_paths, tmp_path / "tinysol")
    meta = root / "TinySOL_metadata.csv"
    with pytest.raises(ConfigError, match=r"label='Instrument' is not a column"):
        read_dataset("tinysol", root, label="Instrument")
    with pytest.raises(ConfigError, match=r"test_fold=5 must be a TinySOL fold"):
        read_dataset("tinysol", root, test_fold=5)
    with pytest.raises(ConfigError, match="val_fold=0 needs a different test_fold"):
        read_dataset("tinysol", root, val_fold=0)
    lines = meta.read_text().splitlines()
    victim = root / "TinySOL" / lines[3].split(",")[0]
    victim.unlink()
    with pytest.raises(DataError, match=rf"TinySOL_metadata\.csv lists 1 of its \d+ audio files .*{re.escape(victim.name)}"):
        read_dataset("tinysol", root)
    cells = lines[2].split(",")
    cells[1] = "7"
    meta.write_text("\n".join([lines[0], lines[1], ",".join(cells), *lines[4:]]) + "\n")
    with pytest.raises(DataError, match=r"TinySOL_metadata\.csv, line 3: Fold='7' must be 0 to 4"):
        read_dataset("tinysol", root)
    meta.write_text(lines[0].replace("Fold", "Split") + "\n" + "\n".join(lines[1:3]) + "\n")
    with pytest.raises(DataError, match=r"TinySOL_metadata\.csv: TinySOL's TinySOL_metadata\.csv lacks the column\(s\) 'Fold'"):
        read_dataset("tinysol", root)
    meta.unlink()
    with pytest.raises(DataError, match=r"TinySOL_metadata\.csv: missing"):
        read_dataset("tinysol", root)


# -- Medley-solos-DB -----------------------------------------------------------------------

_MEDLEY = {"bass": (0, "clarinet"), "flute": (3, "flute"), "guitar": (1, "distorted electric guitar"),
           "organ": (4, "piano")}


def make_medley(note_paths, root: Path) -> Path:
    """``root/Medley-solos-DB_metadata.csv`` and ``root/audio/Medley-solos-DB_<subset>-<id>_<uuid4>.wav``;
    a program is a song, and its subset is the program's rank in its family."""
    rows = []
    notes = _notes(note_paths)
    programs = {fam: sorted({p for _, f, p, _, _ in notes if f == fam}) for _, fam, _, _, _ in notes}
    for i, (path, fam, program, _, _) in enumerate(notes):
        subset = ("training", "validation", "test")[programs[fam].index(program) % 3]
        inst_id, instrument = _MEDLEY[fam]
        uid = str(uuid.UUID(int=i + 1))
        _copy(path, root / "audio" / f"Medley-solos-DB_{subset}-{inst_id}_{uid}.wav")
        rows.append([subset, instrument, str(inst_id), str(program), uid])
    with open(root / "Medley-solos-DB_metadata.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["subset", "instrument", "instrument_id", "song_id", "uuid4"])
        w.writerows(rows)
    return root


def test_medley_reads_instruments_song_groups_and_subsets(note_paths, tmp_path):
    root = make_medley(note_paths, tmp_path / "medley")
    coll = read_dataset("medley-solos-db", root)
    assert len(coll) == len(note_paths)
    assert coll.labels == ["clarinet", "distorted electric guitar", "flute", "piano"]
    assert Counter(it.meta["subset"] for it in coll).keys() == {"training", "validation", "test"}
    assert all(it.split == {"training": "train"}.get(it.meta["subset"], it.meta["subset"]) for it in coll)
    songs = Counter(it.group for it in coll)
    assert len(songs) == 12 and min(songs.values()) > 1  # excerpts of one song share their group
    assert all(len({it.split for it in coll if it.group == g}) == 1 for g in songs)
    assert {it.split for it in read_dataset("medley_solos_db", root, subsets=["test"])} == {"test"}


def test_medley_names_what_is_wrong(note_paths, tmp_path):
    root = make_medley(note_paths, tmp_path / "medley")
    meta = root / "Medley-solos-DB_metadata.csv"
    lines = meta.read_text().splitlines()
    victim = next((root / "audio").iterdir())
    victim.unlink()
    with pytest.raises(DataError, match=rf"lists 1 of its \d+ audio files that are not under .*{re.escape(victim.name)}"):
        read_dataset("medley-solos-db", root)
    meta.write_text("\n".join([lines[0], lines[1].replace(lines[1].split(",")[0], "train", 1), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"metadata\.csv, line 2: subset='train' must be one of training, validation, test"):
        read_dataset("medley-solos-db", root)
    cells = lines[1].split(",")
    cells[2] = "two"
    meta.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"line 2: instrument_id='two' and song_id='\d+' must be integers"):
        read_dataset("medley-solos-db", root)
    meta.write_text(lines[0].replace("song_id", "song") + "\n" + lines[1] + "\n")
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'song_id'"):
        read_dataset("medley-solos-db", root)
    meta.unlink()
    with pytest.raises(DataError, match=r"Medley-solos-DB_metadata\.csv: missing"):
        read_dataset("medley-solos-db", root)


# -- IRMAS ---------------------------------------------------------------------------------

def make_irmas(note_paths, root: Path) -> Path:
    """``root/IRMAS-TrainingData/<code>/`` with the three published name patterns; the two
    excerpts of a recording are ``__1`` and ``__2``."""
    paths = sorted(note_paths)
    names = ["[{c}][cla]{n:04d}__{k}.wav", "[{c}][dru][pop_roc]{n:04d}__{k}.wav", "{m:03d}__[{c}][nod][jaz_blu]{n:04d}__{k}.wav"]
    i = 0
    for code in INSTRUMENTS:
        for r, pattern in enumerate(names):
            for k in (1, 2):
                name = pattern.format(c=code, n=100 + r, k=k, m=7 + r)
                _copy(paths[i % len(paths)], root / "IRMAS-TrainingData" / code / name)
                i += 1
    return root


def test_irmas_reads_predominant_instrument_and_source_recordings(note_paths, tmp_path):
    root = make_irmas(note_paths, tmp_path / "irmas")
    coll = read_dataset("irmas", root)
    assert coll.labels == sorted(INSTRUMENTS) and len(coll) == 11 * 6
    groups = Counter(it.group for it in coll)
    assert len(groups) == 11 * 3 and set(groups.values()) == {2}  # __1 and __2 of one recording
    cel = {it.group: it.meta for it in coll if it.label == "cel"}
    assert cel["[cel][cla]0100"]["genre"] == "classical" and cel["[cel][cla]0100"]["drums"] == ""
    assert cel["[cel][dru][pop_roc]0101"]["drums"] == "yes"
    assert cel["009__[cel][nod][jaz_blu]0102"] == {"instrument": "cello", "genre": "jazz-blues", "drums": "no",
                                                   "excerpt": "2"}  # the last excerpt read of the group
    parts = coll.split(test_size=0.3, val_size=0.0, seed=1)
    assert not set(parts["train"].groups) & set(parts["test"].groups)
    assert read_dataset("irmas", root / "IRMAS-TrainingData").paths == coll.paths


def test_irmas_names_what_is_wrong(note_paths, tmp_path):
    root = make_irmas(note_paths, tmp_path / "irmas")
    train = root / "IRMAS-TrainingData"
    bad = _copy(note_paths[0], train / "flu" / "[sax][cla]0001__1.wav")  # another instrument's tag
    with pytest.raises(DataError, match=re.escape(str(bad)) + r": not named \[flu\]"):
        read_dataset("irmas", root)
    bad.rename(train / "flu" / "flute take 1.wav")
    with pytest.raises(DataError, match=r"flute take 1\.wav: not named"):
        read_dataset("irmas", root)
    (train / "flu" / "flute take 1.wav").unlink()
    (train / "drums").mkdir()
    with pytest.raises(DataError, match=r"folder\(s\) drums are not IRMAS instruments"):
        read_dataset("irmas", root)
    (train / "drums").rmdir()
    shutil.rmtree(train / "voi")
    with pytest.raises(DataError, match=r"instrument folder\(s\) voi missing"):
        read_dataset("irmas", root)


# -- the registry --------------------------------------------------------------------------

def test_registry_names_options_and_cards():
    from musicnn.cli.datasets import READER_NAMES
    from musicnn.resources import cards

    assert tuple(READERS) == READER_NAMES == tuple(REMOTES)
    shipped = cards()
    for name in READERS:
        text = shipped[name].read_text(encoding="utf-8")
        for heading in ("Source", "Licence", "Layout", "Labels", "Split", "Citation", "Download"):
            assert re.search(rf"^## .*{heading}", text, re.M | re.I), (name, heading)
    assert "split_file" in reader_options("gtzan") and "test_fold" in reader_options("tinysol")
    with pytest.raises(ConfigError, match="name='mnist' is not a data set with a reader; choose one of gtzan, nsynth"):
        read_dataset("mnist", ".")
    with pytest.raises(ConfigError, match="the tinysol reader has no option 'fold'; its options: test_fold, val_fold"):
        read_dataset("tinysol", ".", fold=1)
    with pytest.raises(DataError, match="no such folder"):
        read_dataset("irmas", "/nonexistent/irmas")
    for name, remotes in REMOTES.items():  # the real download code: https or the publisher's http, checksums typed
        for r in remotes:
            assert r.url.startswith(("https://", "http://download.magenta")) and r.fname
            assert r.known_hash is None or re.fullmatch(r"(md5:[0-9a-f]{32}|sha256:[0-9a-f]{64})", r.known_hash)


# -- downloads -----------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_without_network_fails_in_one_line(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/genres.tar.gz"
    monkeypatch.setitem(REMOTES, "gtzan", (Remote("audio", url, "genres.tar.gz", None, unpacks_to="genres"),))
    with pytest.raises(DataError) as info:
        download("gtzan", tmp_path / "gtzan", progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith("cannot reach 127.0.0.1:")
    assert "genres.tar.gz" in message and "offline" in message and "Connection refused" in message
    line = _one_line_error(CliRunner().invoke(main, ["--quiet", "datasets", "download", "gtzan", "--to",
                                                     str(tmp_path / "cli")]))
    assert "cannot reach 127.0.0.1:" in line and "by hand into" in line
    assert not (tmp_path / "cli" / "genres").exists()


class _Files(BaseHTTPRequestHandler):
    """Serves ``files`` with HTTP Range support; records the Range headers it saw."""

    files: ClassVar[dict[str, bytes]] = {}
    ranges: ClassVar[list[str]] = []

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Files.files, _Files.ranges = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Files
    httpd.shutdown()
    httpd.server_close()


def _tar_gz(folder: Path, arcname: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(folder, arcname=arcname)
    return buf.getvalue()


def test_download_resumes_verifies_extracts_and_reads(note_paths, tmp_path, server):
    base, files = server
    src = make_gtzan(note_paths, tmp_path / "src", per_genre=1)
    archive = _tar_gz(src / "genres", "genres")
    files.files["/genres.tar.gz"] = archive
    files.files["/test_filtered.txt"] = b"blues/blues.00000.wav\n"
    md5 = hashlib.md5(archive).hexdigest()
    remotes = (Remote("audio", f"{base}/genres.tar.gz", "genres.tar.gz", f"md5:{md5}", unpacks_to="genres"),
               Remote("splits", f"{base}/test_filtered.txt", "test_filtered.txt", None))
    to = tmp_path / "gtzan"
    to.mkdir()
    (to / "genres.tar.gz.part").write_bytes(archive[: len(archive) // 2])  # an interrupted earlier run
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REMOTES, "gtzan", remotes)
        report = download("gtzan", to, progress=False, log=lines.append)
        assert files.ranges == [f"bytes={len(archive) // 2}-"]  # it continued, not restarted
        assert report.root == to and len(lines) == 2
        assert "md5 verified, extracted" in lines[0]
        assert "not verified (no published checksum); its sha256 is " + hashlib.sha256(
            b"blues/blues.00000.wav\n").hexdigest() in lines[1]
        assert not (to / "genres.tar.gz").exists() and not list(to.glob("*.part")) and not list(to.glob(".tmp-*"))
        assert read_dataset("gtzan", to).counts() == {g: 1 for g in sorted(GENRES)}
        again = download("gtzan", to, progress=False)  # nothing fetched twice
        assert all("already there" in ln for ln in again.lines) and len(files.ranges) == 1
        # a corrupt transfer: the checksum stops it, nothing is left under the final name
        files.files["/genres.tar.gz"] = archive[:-1] + bytes([archive[-1] ^ 1])
        with pytest.raises(DataError, match=r"genres\.tar\.gz: the download does not match the published checksum md5:"):
            download("gtzan", tmp_path / "other", parts=["audio"], progress=False)
        assert not (tmp_path / "other" / "genres").exists() and not (tmp_path / "other" / "genres.tar.gz").exists()
        with pytest.raises(ConfigError, match=r"parts=\['labels'\]: gtzan has the parts 'audio', 'splits'"):
            download("gtzan", to, parts=["labels"])


def test_download_extracts_a_zip_atomically_and_force_replaces(note_paths, tmp_path, server):
    base, files = server
    src = make_irmas(note_paths, tmp_path / "src")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted((src / "IRMAS-TrainingData").rglob("*.wav")):
            zf.write(f, f.relative_to(src).as_posix())
        zf.writestr("__MACOSX/._junk", b"")
    files.files["/IRMAS-TrainingData.zip"] = buf.getvalue()
    md5 = hashlib.md5(buf.getvalue()).hexdigest()
    remotes = (Remote("training", f"{base}/IRMAS-TrainingData.zip", "IRMAS-TrainingData.zip", f"md5:{md5}",
                      unpacks_to="IRMAS-TrainingData"),)
    to = tmp_path / "irmas"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REMOTES, "irmas", remotes)
        result = _run(["datasets", "download", "irmas", "--to", str(to), "--keep-archives"])
        assert "md5 verified, extracted" in result.output and "musicnn datasets check irmas" in result.output
        assert (to / "IRMAS-TrainingData.zip").is_file()
        assert len(read_dataset("irmas", to)) == 66
        stale = to / "IRMAS-TrainingData" / "cel" / "stale.txt"
        stale.write_text("left by hand")
        assert "already there (--force downloads it again)" in _run(
            ["datasets", "download", "irmas", "--to", str(to)]).output
        _run(["datasets", "download", "irmas", "--to", str(to), "--force"])
        assert not stale.exists() and len(read_dataset("irmas", to)) == 66


# -- musicnn datasets check ----------------------------------------------------------------

def test_check_prints_counts_per_label_and_split(note_paths, tmp_path):
    root = make_gtzan(note_paths, tmp_path / "gtzan", per_genre=2)
    out = _run(["datasets", "check", "gtzan", str(root)]).output
    assert out.splitlines()[0].startswith("gtzan: 20 files, 10 labels, 20 groups")
    assert re.search(r"^blues\s+2$", out, re.M) and re.search(r"^total\s+20$", out, re.M)
    splits = write_gtzan_split(tmp_path / "splits", {"train_filtered.txt": [f"{g}/{g}.00000.wav" for g in GENRES],
                                                     "valid_filtered.txt": [],
                                                     "test_filtered.txt": [f"{g}/{g}.00001.wav" for g in GENRES]})
    out = _run(["datasets", "check", "gtzan", str(root), "--split-file", str(splits)]).output
    assert re.search(r"^label\s+train\s+test$", out, re.M) and re.search(r"^rock\s+1\s+1$", out, re.M)
    tiny = make_tinysol(note_paths, tmp_path / "tinysol")
    out = _run(["datasets", "check", "tinysol", str(tiny), "-o", "test_fold=2", "-o", "val_fold=3"]).output
    assert re.search(r"^label\s+train\s+validation\s+test$", out, re.M)


def test_check_names_the_problem_in_one_line_and_probes_audio(note_paths, tmp_path):
    line = _one_line_error(CliRunner().invoke(main, ["--quiet", "datasets", "check", "medley-solos-db",
                                                     str(tmp_path)]))
    assert "Medley-solos-DB_metadata.csv: missing" in line
    line = _one_line_error(CliRunner().invoke(main, ["--quiet", "datasets", "check", "gtzan", str(tmp_path),
                                                     "--split-file", str(tmp_path / "none")]))
    assert "no GTZAN genre folders" in line
    root = make_gtzan(note_paths, tmp_path / "gtzan", per_genre=1)
    bad = root / "genres" / "metal" / "metal.00000.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    result = _run(["datasets", "check", "gtzan", str(root), "--probe"], code=3)
    assert "1 files skipped" in result.output and str(bad) in result.output


def test_download_checks_a_file_already_there_and_fetches_it_again_if_it_differs(tmp_path, server):
    base, files = server
    body = b"Path,Fold\n"
    files.files["/TinySOL_metadata.csv"] = body
    remotes = (Remote("metadata", f"{base}/TinySOL_metadata.csv", "TinySOL_metadata.csv",
                      f"md5:{hashlib.md5(body).hexdigest()}"),)
    to = tmp_path / "tinysol"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REMOTES, "tinysol", remotes)
        assert "TinySOL_metadata.csv: downloaded, md5 verified" in download("tinysol", to, progress=False).lines[0]
        assert "already there, md5 verified" in download("tinysol", to, progress=False).lines[0]
        (to / "TinySOL_metadata.csv").write_bytes(b"edited by hand\n")
        assert "downloaded, md5 verified" in download("tinysol", to, progress=False).lines[0]
        assert (to / "TinySOL_metadata.csv").read_bytes() == body

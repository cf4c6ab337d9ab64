"""Training and evaluating across sources through the CLI: --split by-source, evaluate on another set."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from musicnn.cli import main



def _has_merlin() -> bool:
    from musicnn.data.render import resolve_soundfont
    from musicnn.errors import DataError

    try:
        return resolve_soundfont("merlin")[1].is_file()
    except DataError:
        return False


pytestmark = pytest.mark.skipif(not _has_merlin(), reason="the merlin SoundFont comes with the soundfonts extra")


@pytest.fixture(scope="module")
def two_fonts(tmp_path_factory):
    from musicnn.data.render import build_instruments

    out = tmp_path_factory.mktemp("two-fonts")
    build_instruments(out, soundfont=["timgm6mb", "merlin"], families=("flute", "string"),
                      max_programs_per_family=2, pitch_step=6, velocities=(100,), progress=False)
    return out


def _invoke(args, code=0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result


def test_train_by_source_then_evaluate_the_same_test(two_fonts, tmp_path):
    from musicnn.data import Collection
    from musicnn.modelfile import read_metadata

    model = tmp_path / "t2m.safetensors"
    out = _invoke(["-q", "train", "--data", str(two_fonts), "--model", "mlp", "--out", str(model),
                   "--split", "by-source", "--test-source", "merlin", "--epochs", "5"]).output
    assert "test split" in out
    split = read_metadata(model)["summary"]["split"]
    assert split["by"] == "source" and split["test_source"] == "merlin"
    coll = Collection.load(two_fonts)
    test = coll.split(**split)["test"]
    assert {it.meta["source"] for it in test} == {"merlin"}
    report = json.loads(_invoke(["-q", "evaluate", str(model), "--data", str(two_fonts), "--split", "test",
                                 "--json"]).output)
    assert report["n"] == len(test)
    train_report = json.loads((tmp_path / "t2m.report.json").read_text())
    assert train_report["accuracy"] == report["accuracy"]


def test_by_source_options_are_checked(two_fonts, tmp_path):
    out = str(tmp_path / "m.safetensors")
    result = _invoke(["train", "--data", str(two_fonts), "--model", "mlp", "--out", out, "--split", "by-source"],
                     code=2)
    assert "--test-source" in result.output
    result = _invoke(["train", "--data", str(two_fonts), "--model", "mlp", "--out", out, "--test-source", "merlin"],
                     code=2)
    assert "--split by-source" in result.output
    result = _invoke(["train", "--data", str(two_fonts), "--model", "mlp", "--out", out, "--split", "by-source",
                      "--test-source", "fluid"], code=1)
    assert "--test-source fluid is not a source" in result.output and "merlin, timgm6mb" in result.output

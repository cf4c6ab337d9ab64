"""Metrics, the per-class report, the confusion matrix as JSON and PNG."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from musicnn.errors import DataError
from musicnn.evaluation import evaluate, plot_confusion, plot_curves

TRUE = ["bass", "bass", "flute", "flute", "flute", "organ", "organ", "organ"]
PRED = ["bass", "flute", "flute", "flute", "organ", "organ", "organ", "bass"]


def test_scores_agree_with_sklearn():
    rep = evaluate(TRUE, PRED)
    assert rep.accuracy == pytest.approx(5 / 8)
    assert rep.balanced_accuracy == pytest.approx(balanced_accuracy_score(TRUE, PRED))
    assert rep.macro_f1 == pytest.approx(f1_score(TRUE, PRED, average="macro"))
    assert rep.per_class["flute"]["recall"] == pytest.approx(2 / 3)
    assert rep.per_class["bass"]["support"] == 2
    assert rep.confusion == [[1, 1, 0], [0, 2, 1], [1, 0, 2]]
    assert "macro F1" in rep.text() and "flute" in rep.text()


def test_json_carries_the_headline_scores():
    d = json.loads(evaluate(TRUE, PRED).to_json())
    assert {"accuracy", "balanced_accuracy", "macro_f1", "per_class", "confusion", "labels"} <= set(d)


def test_labels_fix_the_order_and_absent_classes_do_not_count():
    from musicnn.data.collection import DataWarning

    with pytest.warns(DataWarning, match=r"no item of label\(s\) 'c' among the 2 scored"):
        rep = evaluate(["a", "b"], ["a", "b"], labels=["c", "b", "a"])
    assert rep.labels == ["c", "b", "a"] and rep.confusion[0] == [0, 0, 0]
    assert rep.macro_f1 == 1.0  # 'c' has no support: not averaged in, and said so
    assert rep.unmeasured == ["c"] and rep.text().endswith(
        "not measured (no item scored): c; left out of balanced accuracy and macro F1")


def test_bad_inputs():
    with pytest.raises(DataError, match="2 labels but y_pred has 1"):
        evaluate(["a", "b"], ["a"])
    with pytest.raises(DataError, match="no items"):
        evaluate([], [])


def test_pngs_are_written(tmp_path):
    png = plot_confusion(evaluate(TRUE, PRED), tmp_path / "out" / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    curves = plot_curves({"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.8], "val_accuracy": [0.3, 0.6, 0.5],
                          "best_epoch": 2}, tmp_path / "curves.png")
    assert curves.read_bytes()[:4] == b"\x89PNG"


def test_plots_leave_pyplot_and_its_backend_alone(tmp_path):
    """A notebook's own ``plt.show()`` keeps working after musicnn wrote a picture: no backend
    switched, no figure left registered with pyplot."""
    import subprocess
    import sys

    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import matplotlib.pyplot as plt\n"
        "from musicnn.evaluation import evaluate, plot_confusion, plot_curves\n"
        f"plot_confusion(evaluate(['a', 'b', 'a'], ['a', 'a', 'a']), {str(tmp_path / 'cm.png')!r})\n"
        f"plot_curves({{'train_loss': [1, .5], 'val_loss': [1, .7], 'val_accuracy': [.5, .6]}}, {str(tmp_path / 'c.png')!r})\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "cm.png").stat().st_size > 1000 and (tmp_path / "c.png").stat().st_size > 1000

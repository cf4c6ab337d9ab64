"""Evaluation: metrics, a per-class report, and the confusion matrix (JSON and PNG)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.errors import DataError

__all__ = ["Report", "evaluate", "plot_confusion", "plot_curves", "new_figure", "save_png"]


@dataclass
class Report:
    """Scores of predictions against true labels.

    Attributes
    ----------
    labels : list of str
        Class names, the order of the confusion matrix's rows (true) and columns (predicted).
    n : int
        Items scored.
    accuracy, balanced_accuracy, macro_f1 : float
    per_class : dict
        ``{label: {"precision", "recall", "f1", "support"}}``.
    confusion : list of list of int
        Counts, rows = true label, columns = predicted label.
    member_accuracy : list of float or None
        For an ensemble's predictions: each member's own accuracy on the same items.
    """

    labels: list[str]
    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    member_accuracy: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def text(self) -> str:
        """A per-class table and the summary scores, for a terminal."""
        width = max([len(lab) for lab in self.labels] + [9])
        lines = [f"{'class':<{width}}  precision  recall     f1  support"]
        for lab in self.labels:
            c = self.per_class[lab]
            lines.append(f"{lab:<{width}}  {c['precision']:9.3f}  {c['recall']:6.3f}  {c['f1']:5.3f}  {int(c['support']):7d}")
        lines.append("")
        lines.append(f"{'accuracy':<{width}}  {self.accuracy:.3f}   (n={self.n})")
        lines.append(f"{'balanced accuracy':<{width}}  {self.balanced_accuracy:.3f}")
        lines.append(f"{'macro F1':<{width}}  {self.macro_f1:.3f}")
        if self.member_accuracy:
            lines.append(f"{'members':<{width}}  accuracy {', '.join(f'{a:.3f}' for a in self.member_accuracy)} "
                         "(each network of the ensemble alone)")
        absent = self.unmeasured
        if absent:
            lines.append(f"not measured (no item scored): {', '.join(absent)}; left out of balanced accuracy "
                         "and macro F1")
        return "\n".join(lines)

    @property
    def unmeasured(self) -> list[str]:
        """Labels without any scored item (support 0): their recall and F1 mean nothing."""
        return [lab for lab in self.labels if int(self.per_class[lab]["support"]) == 0]


def evaluate(y_true: Sequence, y_pred: Sequence, labels: Sequence[str] | None = None, *,
             warn: bool = True) -> Report:
    """Score predicted labels.

    Parameters
    ----------
    y_true, y_pred : sequence of str
        True and predicted labels, same length.
    labels : sequence of str or None
        Class order (default: sorted union of both).
    warn : bool
        Warn (:class:`~musicnn.data.DataWarning`) when a label of ``labels`` has no item in
        ``y_true``: its scores are not measured (:attr:`Report.unmeasured`).

    Returns
    -------
    Report
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray([str(v) for v in y_true], dtype=object)
    y_pred = np.asarray([str(v) for v in y_pred], dtype=object)
    if len(y_true) != len(y_pred):
        raise DataError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise DataError("nothing to evaluate: no items")
    labels = [str(v) for v in labels] if labels is not None else sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = s > 0  # classes absent from y_true do not count in the macro average
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    report = Report(
        labels=list(labels),
        n=int(len(y_true)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(balanced_accuracy_score(y_true, y_pred)) if len(set(y_true)) > 1 else float(r[present].mean()),
        macro_f1=float(f[present].mean()) if present.any() else 0.0,
        per_class={lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                   for i, lab in enumerate(labels)},
        confusion=cm.astype(int).tolist(),
    )
    if warn and report.unmeasured:
        import warnings

        from musicnn.data.collection import DataWarning

        warnings.warn(f"no item of label(s) {', '.join(map(repr, report.unmeasured))} among the {report.n} scored: "
                      "their recall and F1 are not measured, and balanced accuracy and macro F1 leave them out",
                      DataWarning, stacklevel=2)
    return report


def plot_confusion(report: Report, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the confusion matrix as a PNG: row-normalised colours, counts in the cells.

    Parameters
    ----------
    report : Report
    path : str or PathLike
        The PNG to write (folders are created).
    title : str or None

    Returns
    -------
    Path
    """
    cm = np.asarray(report.confusion, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(report.labels)
    size = max(4.0, 0.55 * k + 2.5)
    fig, ax = new_figure(figsize=(size + 1.0, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), report.labels, rotation=45, ha="right")
    ax.set_yticks(range(k), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or f"accuracy {report.accuracy:.3f}, macro F1 {report.macro_f1:.3f} (n={report.n})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    return save_png(fig, path, dpi=120)


def plot_curves(history: dict[str, Any], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write training curves as a PNG: loss per epoch (left), accuracy per epoch (right),
    and the learning rate when a schedule changed it.

    Parameters
    ----------
    history : dict
        With lists ``train_loss`` and optionally ``val_loss``, ``train_accuracy``,
        ``val_accuracy``, ``lr``; ``best_epoch``.
    path : str or PathLike

    Returns
    -------
    Path
    """
    fig, (ax, acc) = new_figure(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("train_loss", [])) + 1)

    def curve(axis, key, label, **style):
        values = history.get(key) or []
        if values:
            axis.plot(epochs[: len(values)], values, label=label, **style)

    curve(ax, "train_loss", "train loss")
    curve(ax, "val_loss", "validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    curve(acc, "train_accuracy", "train accuracy (batches as seen)")
    curve(acc, "val_accuracy", "validation accuracy", color="tab:green")
    acc.set_xlabel("epoch")
    acc.set_ylabel("accuracy")
    acc.set_ylim(0, 1)
    lr = history.get("lr") or []
    if len(set(lr)) > 1:
        ax_lr = ax.twinx()
        ax_lr.plot(epochs[: len(lr)], lr, color="tab:purple", linestyle="--", label="learning rate")
        ax_lr.set_ylabel("learning rate")
        ax_lr.legend(loc="center right")
    best = history.get("best_epoch")
    for axis in (ax, acc):
        if best:
            axis.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        if axis.lines:
            axis.legend(loc="upper right" if axis is ax else "lower right")
    fig.suptitle(title or "training curves")
    return save_png(fig, path, dpi=110)


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure and its axes, drawn by Agg outside pyplot's state.

    No backend is switched and nothing is registered with pyplot: in a notebook or an
    interactive session the user's own ``plt.show()`` keeps working, and there is no
    figure to close.  ``nrows, ncols`` as for ``plt.subplots``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols)


def save_png(fig: Any, path: str | os.PathLike, *, dpi: int) -> Path:
    """Lay out ``fig`` (from :func:`new_figure`) and write it as a PNG atomically (folders are created)."""
    path = Path(path)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return path

"""Ensembles: several networks of one family, trained from different seeds, probabilities averaged.

An ensemble of three CNNs named the family of FluidR3_GM notes, a SoundFont none of them
heard, right 0.727 of the time against 0.679-0.714 for its members alone
(``benchmarks/RESULTS.md``, row ``eq-reverb-ensemble3``): networks started from other
random weights make other mistakes on unfamiliar sounds, and averaging their
probabilities cancels part of them.

:class:`Ensemble` is a meta-estimator over any registered supervised family with
``predict_proba``; each member is trained by that family's own ``fit`` (for torch families,
the shared training loop), one after the other.  Its model file holds every member's arrays
under ``members.<i>.`` and their learned state under ``learned["members"]``; the family name
in the file is :data:`ENSEMBLE_FAMILY`.  This module imports neither torch nor scikit-learn:
:func:`musicnn.modelfile.load_predictor` builds an ensemble of numpy networks from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from musicnn.errors import ConfigError, ModelFileError
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, check_is_fitted

__all__ = ["ENSEMBLE_FAMILY", "MAX_MEMBERS", "Ensemble", "member_checkpoint", "member_seed"]

#: The family name an ensemble's model file records.
ENSEMBLE_FAMILY = "ensemble"
#: Most members an ensemble may have (a model file naming more is refused before any array is read).
MAX_MEMBERS = 16
#: Member ``i`` is seeded ``seed + SEED_STRIDE * i`` (the seeds of benchmarks/generalisation.py's ensembles).
SEED_STRIDE = 1000


def member_seed(seed: int, index: int) -> int:
    """The seed of member ``index`` of an ensemble seeded ``seed``."""
    return int(seed) + SEED_STRIDE * int(index)


def member_checkpoint(checkpoint: str | os.PathLike, index: int) -> Path:
    """Where member ``index`` keeps its training state: ``x.checkpoint.safetensors`` ->
    ``x.checkpoint.member<index>.safetensors``."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.member{index}{path.suffix}")


def _check_n_members(n_members: Any, where: str = "n_members") -> int:
    if isinstance(n_members, bool) or not isinstance(n_members, (int, np.integer)) or not 2 <= n_members <= MAX_MEMBERS:
        raise ConfigError(f"{where}={n_members!r} must be an integer from 2 to {MAX_MEMBERS}")
    return int(n_members)


class Ensemble(ClassifierMixin, BaseEstimator):
    """Several classifiers of one family, each trained from its own seed; their class
    probabilities are averaged.

    Parameters
    ----------
    family : str, default="cnn"
        The members' family (a registered supervised family with ``predict_proba``).
    params : dict or None, default=None
        The members' hyper-parameters; their seed is replaced by each member's.
    n_members : int, default=3
        How many members (2 to :data:`MAX_MEMBERS`).
    seed : int, default=0
        Member ``i`` is seeded ``seed + 1000 i``.
    progress : bool, default=True
        Show each member's training progress.

    Attributes
    ----------
    members_ : list
        The fitted members, in seed order.
    classes_ : ndarray
        Class labels (every member has the same).
    input_shape_ : tuple of int
        One example's shape (members with an ``input_shape_``).
    n_features_in_ : int
    history_ : TrainHistory
        The members' training curves averaged epoch by epoch; ``seconds`` is their sum.

    Examples
    --------
    >>> from musicnn.models.ensemble import Ensemble
    >>> model = Ensemble("mlp", {"hidden_layer_sizes": (32,), "max_epochs": 5}, n_members=2)
    """

    def __init__(self, family: str = "cnn", params: dict[str, Any] | None = None, n_members: int = 3,
                 seed: int = 0, progress: bool = True) -> None:
        self.family = family
        self.params = params
        self.n_members = n_members
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------ members
    def _check_params(self) -> None:
        from musicnn.models import REGISTRY

        _check_n_members(self.n_members)
        info = REGISTRY.get(self.family) if isinstance(self.family, str) else None
        if info is None or info.kind != "supervised":
            names = sorted(n for n, i in REGISTRY.items() if i.kind == "supervised")
            raise ConfigError(f"family={self.family!r}: an ensemble's members are of one supervised family: "
                              f"{', '.join(names)}")
        if self.params is not None and not isinstance(self.params, dict):
            raise ConfigError(f"params={self.params!r} must be a dict of the members' hyper-parameters")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(f"seed={self.seed!r} must be an integer")

    def _member(self, index: int) -> Any:
        """An unfitted member ``index``: the family's estimator with ``params`` and its seed."""
        import inspect

        from musicnn.models import get_estimator_class, params_for

        cls = get_estimator_class(self.family)
        accepted = set(inspect.signature(cls.__init__).parameters)
        params = params_for(self.family, self.params)
        for name in ("seed", "random_state"):
            if name in accepted:
                params[name] = member_seed(self.seed, index)
                break
        else:
            raise ConfigError(f"{self.family} has no seed: its members would all be the same network")
        if "progress" in accepted:
            params["progress"] = bool(self.progress)
        if not hasattr(cls, "predict_proba"):
            raise ConfigError(f"{self.family} gives no probabilities (predict_proba) to average")
        return cls(**params)

    def _recorded_member(self, params: Any, index: int) -> Any:
        """An unfitted member built from the hyper-parameters its model file records."""
        from musicnn.models import get_estimator_class

        if not isinstance(params, dict):
            raise ModelFileError(f"member {index}'s params are not a JSON object; the file is corrupt")
        from musicnn.models.state import params_from_json

        cls = get_estimator_class(self.family)
        try:
            return cls(**params_from_json(cls, params))
        except ModelFileError as err:
            raise ModelFileError(f"member {index}: {err}") from err

    @classmethod
    def of(cls, members: Sequence[Any], *, family: str = "cnn", params: dict[str, Any] | None = None,
           seed: int = 0) -> Ensemble:
        """A fitted ensemble of already fitted ``members`` (e.g. numpy networks loaded for
        inference); they must share their classes and input shape."""
        ensemble = cls(family=family, params=params, n_members=len(members), seed=seed, progress=False)
        _check_n_members(len(members), "len(members)")
        ensemble._set_members(list(members))
        return ensemble

    def _set_members(self, members: list[Any]) -> None:
        first = members[0]
        classes = np.asarray(first.classes_)
        for i, member in enumerate(members[1:], start=1):
            if not np.array_equal(np.asarray(member.classes_), classes):
                raise ModelFileError(f"member {i} has other classes than member 0; the file is corrupt")
            if tuple(getattr(member, "input_shape_", ())) != tuple(getattr(first, "input_shape_", ())):
                raise ModelFileError(f"member {i} takes inputs of another shape than member 0; the file is corrupt")
        self.members_ = members
        self.classes_ = classes
        self.n_features_in_ = int(first.n_features_in_)
        if hasattr(first, "input_shape_"):
            self.input_shape_ = tuple(first.input_shape_)
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        self.history_ = _mean_history([getattr(m, "history_", None) for m in members])

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, *,
            checkpoint: str | os.PathLike | None = None, resume: bool = False) -> Ensemble:
        """Train every member on ``X, y``, one after the other.

        Parameters
        ----------
        X, y, X_val, y_val
            As the members' ``fit`` takes them (validation data only where the family has it).
        checkpoint : path, optional
            Member ``i`` keeps its training state in :func:`member_checkpoint` ``(checkpoint, i)``;
            these files are removed once every member is trained.
        resume : bool, default=False
            Continue from those files: finished members are restored, the interrupted one
            continues, as the family's own ``fit(resume=True)`` does.

        Returns
        -------
        self
        """
        import inspect

        self._check_params()
        members = []
        for i in range(int(self.n_members)):
            member = self._member(i)
            accepted = set(inspect.signature(member.fit).parameters)
            kwargs: dict[str, Any] = {}
            if X_val is not None and "X_val" in accepted:
                kwargs.update(X_val=X_val, y_val=y_val)
            if checkpoint is not None and "checkpoint" in accepted:
                kwargs.update(checkpoint=str(member_checkpoint(checkpoint, i)), resume=resume)
            member.fit(X, y, **kwargs)
            members.append(member)
        self._set_members(members)
        if checkpoint is not None:
            for i in range(int(self.n_members)):
                member_checkpoint(checkpoint, i).unlink(missing_ok=True)
        return self

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """The members' class probabilities averaged, shape (n_samples, n_classes)."""
        check_is_fitted(self, "members_")
        total = None
        for member in self.members_:
            proba = np.asarray(member.predict_proba(X), dtype=np.float64)
            total = proba if total is None else total + proba
        return total / len(self.members_)

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest average probability, shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def member_scores(self, X: Any, y: Any) -> list[float]:
        """Each member's own accuracy on ``X, y`` (rounded to 4 decimals), in seed order."""
        check_is_fitted(self, "members_")
        truth = np.asarray(y).astype(str)
        return [round(float(np.mean(np.asarray(m.predict(X)).astype(str) == truth)), 4) for m in self.members_]

    def embed(self, X: Any) -> np.ndarray:
        """The members' embeddings side by side, shape (n_samples, n_members * embed_dim)."""
        check_is_fitted(self, "members_")
        return np.concatenate([np.asarray(m.embed(X)) for m in self.members_], axis=1)

    @property
    def receptive_field(self) -> Any:
        """The members' ``receptive_field`` method (they share one architecture); an
        AttributeError, as for the members, where their family has none."""
        return self.members_[0].receptive_field

    def summary(self) -> str:
        """The members' family and count, then the first member's network."""
        check_is_fitted(self, "members_")
        first = self.members_[0]
        head = (f"Ensemble of {len(self.members_)} {self.family} networks (seeds "
                f"{', '.join(str(member_seed(self.seed, i)) for i in range(len(self.members_)))}), "
                "class probabilities averaged; each member:")
        body = first.summary() if callable(getattr(first, "summary", None)) else repr(first)
        return head + "\n" + body

    # ------------------------------------------------------------------ persistence
    def state_arrays(self) -> dict[str, Any]:
        """Every member's arrays, keyed ``members.<i>.<name>``."""
        check_is_fitted(self, "members_")
        return {f"members.{i}.{k}": v for i, m in enumerate(self.members_) for k, v in m.state_arrays().items()}

    def learned_metadata(self) -> dict[str, Any]:
        """The members' learned state (``members``), with the classes and input of the first."""
        check_is_fitted(self, "members_")
        # each member's full hyper-parameters, so that a reader without the family's class
        # (the numpy networks of musicnn.models.deep.numpy_forward) knows its network
        members = [{**m.learned_metadata(), "params": m.get_params(deep=False)} for m in self.members_]
        meta = {k: v for k, v in members[0].items() if k in ("classes", "classes_dtype", "n_features_in", "input_shape")}
        meta["members"] = members
        meta["history"] = self.history_.to_dict()
        return meta

    def _restore(self, arrays: dict[str, Any], learned: dict[str, Any]) -> Ensemble:
        """Rebuild every member from its share of the arrays; see :meth:`state_arrays`."""
        self._check_params()
        stored = learned.get("members")
        if not isinstance(stored, list) or len(stored) != self.n_members:
            raise ModelFileError(f"the file records {len(stored) if isinstance(stored, list) else 'no'} members' "
                                 f"learned state for n_members={self.n_members}; the file is corrupt")
        shares = split_arrays(arrays, self.n_members)
        members = []
        for i, (share, state) in enumerate(zip(shares, stored)):
            if not isinstance(state, dict):
                raise ModelFileError(f"member {i}'s learned state is not a JSON object; the file is corrupt")
            state = dict(state)
            recorded = state.pop("params", None)
            member = self._member(i) if recorded is None else self._recorded_member(recorded, i)
            members.append(member._restore(share, state))
        self._set_members(members)
        return self


def split_arrays(arrays: dict[str, Any], n_members: int) -> list[dict[str, Any]]:
    """A model file's arrays ``members.<i>.<name>`` as one ``{name: array}`` per member.

    Raises
    ------
    ModelFileError
        An array outside ``members.<i>.`` for ``i < n_members``.
    """
    shares: list[dict[str, Any]] = [{} for _ in range(n_members)]
    for key, value in arrays.items():
        head, _, rest = key.partition(".")
        index, _, name = rest.partition(".")
        if head != "members" or not index.isdigit() or int(index) >= n_members or not name:
            raise ModelFileError(f"the stored network has an unknown array {key}; the file is corrupt")
        shares[int(index)][name] = value
    return shares


def _mean_history(histories: list[Any]) -> Any:
    """One :class:`~musicnn.training.config.TrainHistory` for the ensemble: the members'
    curves averaged epoch by epoch (over the members that ran that epoch), their seconds summed."""
    from musicnn.training.config import TrainHistory

    runs = [h for h in histories if h is not None and hasattr(h, "train_loss")]
    if not runs:
        return TrainHistory()

    def mean_curve(name: str) -> list[float]:
        curves = [getattr(h, name) for h in runs]
        longest = max((len(c) for c in curves), default=0)
        return [float(np.mean([c[e] for c in curves if len(c) > e])) for e in range(longest)]

    return TrainHistory(
        train_loss=mean_curve("train_loss"), val_loss=mean_curve("val_loss"), val_accuracy=mean_curve("val_accuracy"),
        train_accuracy=mean_curve("train_accuracy"), lr=mean_curve("lr"),
        best_epoch=runs[0].best_epoch, n_epochs=max(h.n_epochs for h in runs),
        stopped_early=any(h.stopped_early for h in runs), seconds=float(sum(h.seconds for h in runs)),
        monitor=runs[0].monitor,
    )

"""Trained CNN and MLP models run in numpy: inference without importing torch.

``import torch`` alone takes 1.3-2.2 s on two cores, longer than everything else
``musicnn classify`` does with one file.  A fitted
:class:`~musicnn.models.deep.cnn.SpectrogramCNN` or
:class:`~musicnn.models.deep.mlp.MLPClassifier` is a fixed chain of convolutions,
batch normalisations (folded into the convolutions here), activations, poolings and
matrix products: :func:`from_arrays` builds that chain from a model file's arrays and
:class:`ForwardModel` runs it with numpy's matrix product (im2col convolutions).  The
probabilities match the torch module's within float32 rounding (``tests/test_numpy_forward.py``).

Training, ``summary`` and every other family stay in torch:
:func:`musicnn.modelfile.load_predictor` uses this module where it can and loads the
torch estimator otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicnn.checks import check_inputs
from musicnn.errors import ConfigError, DataError, ModelFileError
from musicnn.models.deep.conv_layout import ConvSpec, conv_spec, map_shapes
from musicnn.models.deep.params import TRAINING_PARAMETERS, positive_ints
from musicnn.scaling import standardise

__all__ = ["ForwardModel", "OWN_PARAMETERS", "expected_arrays", "from_arrays", "supports"]

#: windows per im2col matrix product: bounds the memory of a batch (~1 MB per window for the default CNN)
_CHUNK = 64
_BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default
_MLP_ACTIVATIONS = ("relu", "tanh", "sigmoid")
#: each family's own hyper-parameters (its class signature before the training ones,
#: :data:`~musicnn.models.deep.params.TRAINING_PARAMETERS`); a file naming any other one
#: was written by another version and is loaded by the torch estimator, which judges it
OWN_PARAMETERS = {
    "cnn": ("channels", "kernel_size", "stride", "padding", "dilation", "pool", "pool_type", "activation",
            "batch_norm", "dropout", "global_pool"),
    "mlp": ("hidden_layer_sizes", "activation", "dropout", "backend", "loss"),
}


def _activate(x: np.ndarray, name: str) -> np.ndarray:
    """The named non-linearity, in place where it can be (torch's default constants)."""
    if name == "relu":
        return np.maximum(x, 0.0, out=x)
    if name == "tanh":
        return np.tanh(x, out=x)
    if name == "sigmoid":
        # 1 / (1 + e^-x), written so that large |x| neither overflows nor loses precision
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
    if name == "leaky_relu":
        return np.where(x >= 0, x, np.float32(0.01) * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    raise ValueError(f"unknown activation {name!r}")  # conv_spec and the MLP checks exclude it


def _conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """A 2-D convolution of a batch ``(n, c_in, frames, bins)``: im2col, then one matrix product per clip.

    ``weight`` is torch's ``(c_out, c_in, k_t, k_f)``; zero padding, stride and dilation as
    ``torch.nn.Conv2d``.  The im2col matrix ``(n, c_in k_t k_f, frames' bins')`` is filled
    one kernel tap at a time, each a copy of whole rows of the map.  Returns
    ``(n, c_out, frames', bins')``.
    """
    c_out, c_in, kt, kf = weight.shape
    (pt, pf), (st, sf), (dt, df) = spec.padding, spec.stride, spec.dilation
    if pt or pf:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pt), (pf, pf)))
    n, _, t_in, f_in = x.shape
    t_out = (t_in - dt * (kt - 1) - 1) // st + 1
    f_out = (f_in - df * (kf - 1) - 1) // sf + 1
    columns = np.empty((n, c_in, kt, kf, t_out, f_out), dtype=np.float32)
    for i in range(kt):
        for j in range(kf):
            columns[:, :, i, j] = x[:, :, i * dt: i * dt + st * (t_out - 1) + 1: st,
                                    j * df: j * df + sf * (f_out - 1) + 1: sf]
    out = weight.reshape(c_out, c_in * kt * kf) @ columns.reshape(n, c_in * kt * kf, t_out * f_out)
    out += bias[:, None]
    return out.reshape(n, c_out, t_out, f_out)


def _pool(x: np.ndarray, window: tuple[int, int], kind: str) -> np.ndarray:
    """Non-overlapping max or average pooling of ``(n, c, frames, bins)``, the window shrunk to
    the map (as the torch block does), a ragged edge dropped (torch's floor mode)."""
    t, f = x.shape[2:]
    wt, wf = min(window[0], t), min(window[1], f)
    if (wt, wf) == (1, 1):
        return x
    t_out, f_out = t // wt, f // wf
    taps = [x[:, :, i: i + wt * t_out: wt, j: j + wf * f_out: wf] for i in range(wt) for j in range(wf)]
    out = taps[0].copy()
    combine = np.maximum if kind == "max" else np.add
    for tap in taps[1:]:
        combine(out, tap, out=out)
    if kind != "max":
        out *= np.float32(1.0 / (wt * wf))
    return out


class ForwardModel:
    """A fitted CNN or MLP, its network run in numpy; the inference side of a torch estimator.

    Built by :func:`from_arrays`.  Has the attributes inference reads (``classes_``,
    ``n_features_in_``, ``input_shape_``, ``mean_``, ``scale_``) and
    :meth:`predict_proba`, :meth:`predict` and :meth:`embed`, with the inputs and outputs of
    the estimator's own.

    Attributes
    ----------
    family : str
        ``"cnn"`` or ``"mlp"``.
    params : dict
        The estimator's hyper-parameters, as the model file stores them.
    """

    def __init__(self, family: str, params: dict[str, Any], layers: list[tuple],
                 head: tuple[np.ndarray, np.ndarray], *, classes: np.ndarray, input_shape: tuple[int, ...],
                 mean: np.ndarray, scale: np.ndarray) -> None:
        self.family, self.params = family, params
        self._spec = conv_spec(params) if family == "cnn" else None
        self._layers, self._head = layers, head
        self.classes_ = classes
        self.input_shape_ = tuple(input_shape)
        self.n_features_in_ = int(input_shape[-1])
        self.mean_, self.scale_ = mean, scale

    def __repr__(self) -> str:
        return f"ForwardModel(family={self.family!r}, classes={len(self.classes_)}, input_shape={self.input_shape_})"

    def _check(self, X: Any) -> np.ndarray:
        X = check_inputs(self, X, dtype=np.float32, allow_nd=True)
        if X.ndim != len(self.input_shape_) + 1:
            layout = "(n_clips, frames, bins)" if self.family == "cnn" else "(n_samples, n_features)"
            raise DataError(f"{self.family} models expect {len(self.input_shape_) + 1}-D input {layout}; "
                            f"got an array of shape {X.shape}")
        return X

    def _embed(self, X: np.ndarray) -> np.ndarray:
        Xs = standardise(X, self.mean_, self.scale_, dtype=np.float32)
        if self.family == "mlp":
            h = Xs
            for w, b, activation in self._layers:
                h = _activate(h @ w.T + b, activation)
            return h
        spec = self._spec
        map_shapes(spec, int(Xs.shape[1]), int(Xs.shape[2]))  # DataError when clips are too short
        parts = []
        for start in range(0, len(Xs), _CHUNK):
            h = Xs[start:start + _CHUNK, None]  # (n, 1 channel, frames, bins)
            for w, b in self._layers:
                h = _pool(_activate(_conv2d(h, w, b, spec), spec.activation), spec.pool, spec.pool_type)
            avg = h.mean(axis=(2, 3), dtype=np.float32)
            if spec.global_pool == "avg":
                parts.append(avg)
            elif spec.global_pool == "max":
                parts.append(h.max(axis=(2, 3)))
            else:
                parts.append(np.concatenate([avg, h.max(axis=(2, 3))], axis=1))
        return np.concatenate(parts, axis=0)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        w, b = self._head
        return self._embed(X) @ w.T + b

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        logits = self._logits(self._check(X)).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label of each example, shape (n_samples,)."""
        return self.classes_[np.argmax(self._logits(self._check(X)), axis=1)]

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate-layer representation of each example, shape (n_samples, embed_dim)."""
        return self._embed(self._check(X))


def supports(family: str, params: dict[str, Any]) -> bool:
    """Whether :func:`from_arrays` runs this model: a CNN or an MLP whose hyper-parameters are
    all known here and valid."""
    if family not in OWN_PARAMETERS or not set(params) <= {*OWN_PARAMETERS[family], *TRAINING_PARAMETERS}:
        return False
    if family == "cnn":
        try:
            conv_spec(params)
        except (KeyError, TypeError, ConfigError):
            return False
        return True
    if family == "mlp":
        try:
            positive_ints("hidden_layer_sizes", params["hidden_layer_sizes"], allow_empty=True)
        except (KeyError, ConfigError):
            return False
        return params.get("activation") in _MLP_ACTIVATIONS and isinstance(params.get("dropout", 0.0), (int, float))
    return False


def _mlp_linear_names(params: dict[str, Any]) -> list[str]:
    """Prefixes of the hidden ``Linear`` layers in ``MLPNet.body`` (dropout layers take an index)."""
    sizes = positive_ints("hidden_layer_sizes", params["hidden_layer_sizes"], allow_empty=True)
    step = 3 if float(params.get("dropout", 0.0)) > 0 else 2
    return [f"module.body.{i * step}" for i in range(len(sizes))]


def expected_arrays(family: str, params: dict[str, Any], input_shape: tuple[int, ...],
                    n_classes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Name -> (safetensors dtype, shape) of every array a model file of this network holds.

    Parameters
    ----------
    family : {"cnn", "mlp"}
    params : dict
        The hyper-parameters stored in the file.
    input_shape : tuple of int
        One example's shape (``(frames, bins)`` or ``(n_features,)``).
    n_classes : int
    """
    n_features = int(input_shape[-1])
    table: dict[str, tuple[str, tuple[int, ...]]] = {}
    if family == "cnn":
        spec = conv_spec(params)
        c_in = 1
        for i, c_out in enumerate(spec.channels):
            prefix = f"module.blocks.{i}"
            table[f"{prefix}.conv.weight"] = ("F32", (c_out, c_in, *spec.kernel))
            if spec.batch_norm:
                for name in ("weight", "bias", "running_mean", "running_var"):
                    table[f"{prefix}.norm.{name}"] = ("F32", (c_out,))
                table[f"{prefix}.norm.num_batches_tracked"] = ("I64", ())
            else:
                table[f"{prefix}.conv.bias"] = ("F32", (c_out,))
            c_in = c_out
        width = 2 * c_in if spec.global_pool == "avgmax" else c_in
    else:
        sizes = positive_ints("hidden_layer_sizes", params["hidden_layer_sizes"], allow_empty=True)
        width = n_features
        for prefix, size in zip(_mlp_linear_names(params), sizes):
            table[f"{prefix}.weight"] = ("F32", (size, width))
            table[f"{prefix}.bias"] = ("F32", (size,))
            width = size
    table["module.head.weight"] = ("F32", (n_classes, width))
    table["module.head.bias"] = ("F32", (n_classes,))
    table["scaler.mean"] = table["scaler.scale"] = ("F32", (n_features,))
    return table


def from_arrays(family: str, params: dict[str, Any], arrays: dict[str, np.ndarray], *,
                classes: np.ndarray, input_shape: tuple[int, ...]) -> ForwardModel:
    """The numpy network of a model file whose arrays :func:`expected_arrays` checked.

    Batch normalisation is folded into the preceding convolution:
    ``w' = w g / sqrt(v + eps)``, ``b' = beta - m g / sqrt(v + eps)``.

    Raises
    ------
    ModelFileError
        When a weight is not finite.
    """
    mean, scale = arrays["scaler.mean"], arrays["scaler.scale"]
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise ModelFileError("the standardisation arrays hold non-finite or non-positive values; "
                             "the file is corrupt")
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ModelFileError(f"the array {name} holds non-finite weights (NaN or infinity); "
                                 "the file is corrupt or the training diverged")
    layers: list[tuple] = []
    if family == "cnn":
        spec = conv_spec(params)
        for i in range(len(spec.channels)):
            prefix = f"module.blocks.{i}"
            w = arrays[f"{prefix}.conv.weight"].astype(np.float64)
            if spec.batch_norm:
                g = arrays[f"{prefix}.norm.weight"].astype(np.float64)
                beta = arrays[f"{prefix}.norm.bias"].astype(np.float64)
                m = arrays[f"{prefix}.norm.running_mean"].astype(np.float64)
                v = arrays[f"{prefix}.norm.running_var"].astype(np.float64)
                factor = g / np.sqrt(v + _BN_EPS)
                w = w * factor[:, None, None, None]
                b = beta - m * factor
            else:
                b = arrays[f"{prefix}.conv.bias"].astype(np.float64)
            layers.append((np.ascontiguousarray(w, dtype=np.float32), b.astype(np.float32)))
    else:
        for prefix in _mlp_linear_names(params):
            layers.append((arrays[f"{prefix}.weight"], arrays[f"{prefix}.bias"], params["activation"]))
    head = (arrays["module.head.weight"], arrays["module.head.bias"])
    return ForwardModel(family, params, layers, head, classes=classes, input_shape=input_shape,
                        mean=mean, scale=scale)

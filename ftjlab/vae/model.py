"""The trained VAE and the MNIST classifier, loaded from ``.npz`` and run in numpy only.

Weights ship in ``ftjlab/data/models`` (see its README for how they were made). Linear layers
are stored as ``(in, out)`` matrices, so a layer is ``x @ W + b``. torch is never imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ftjlab.errors import BadInput

VAE_FILE = "vae_mnist.npz"
CLASSIFIER_FILE = "classifier_mnist.npz"


def _open(path: str | Path | None, default: str) -> dict[str, np.ndarray]:
    try:
        if path is None:
            ref = resources.files("ftjlab.data.models").joinpath(default)
            with resources.as_file(ref) as p, np.load(p, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path or default}: cannot read the weight file ({exc})") from exc


def _check(name: str, arr: np.ndarray | None, shape: tuple[int | None, ...], where: str):
    if arr is None:
        raise BadInput(f"{where}: missing array {name!r}")
    if arr.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)
    ):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise BadInput(f"{where}: {name} has shape {arr.shape}, expected {want}")
    if not np.all(np.isfinite(arr)):
        raise BadInput(f"{where}: {name} contains NaN or inf")
    return arr.astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class DecoderLayer:
    """One decoder layer: ``activation(x @ weight + bias)``; ``weight`` is (in, out)."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str  # "relu" or "sigmoid"

    def apply(self, pre: np.ndarray) -> np.ndarray:
        """The activation applied to a pre-activation ``pre`` (bias already added)."""
        return np.maximum(pre, 0.0) if self.activation == "relu" else sigmoid(pre)


@dataclass
class VAEModel:
    """Decoder ``z -> relu(z W1 + b1) -> ... -> sigmoid(h WK + bK)`` (and, optionally, the
    encoder). ``hidden_max`` is the input range of every layer after the first (99.9th
    percentile of its input activations over N(0, I) latents): one number for all, or one per
    layer."""

    layers: list[DecoderLayer]
    image_shape: tuple[int, ...]
    hidden_max: float | tuple[float, ...]  # input quantisation range of layers 1 .. K-1
    encoder: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def latent_dim(self) -> int:
        return self.layers[0].weight.shape[0]

    @property
    def n_pixels(self) -> int:
        return self.layers[-1].weight.shape[1]

    @property
    def n_weights(self) -> int:
        """Weights of the decoder (each one a differential pair of cells on the array)."""
        return int(sum(layer.weight.size for layer in self.layers))

    @property
    def architecture(self) -> str:
        """e.g. ``16->64->784``."""
        sizes = [self.latent_dim, *(layer.weight.shape[1] for layer in self.layers)]
        return "->".join(str(v) for v in sizes)

    def input_max(self, layer: int) -> float:
        """Input range of layer ``layer`` >= 1 (its inputs are ReLU outputs)."""
        if isinstance(self.hidden_max, int | float):
            return float(self.hidden_max)
        return float(self.hidden_max[layer - 1])

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Images (n, *image_shape) in [0, 1] from latents ``z`` (n, latent_dim), float weights."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise BadInput(f"latents must have shape (n, {self.latent_dim}), got {z.shape}")
        x = z
        for layer in self.layers:
            x = layer.apply(x @ layer.weight + layer.bias)
        return x.reshape(len(z), *self.image_shape)

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of the approximate posterior, for reconstructions and ELBO checks."""
        if not self.encoder:
            raise BadInput("this model file has no encoder")
        e = self.encoder
        x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        h = np.maximum(x @ e["enc_w"] + e["enc_b"], 0.0)
        k = 2
        while f"enc_w{k}" in e:
            h = np.maximum(h @ e[f"enc_w{k}"] + e[f"enc_b{k}"], 0.0)
            k += 1
        mu, logvar = h @ e["mu_w"] + e["mu_b"], h @ e["logvar_w"] + e["logvar_b"]
        if "s2mu_w" not in e:
            return mu, logvar
        # two-stage VAE: the second-stage encoder maps the first stage's mean onto the
        # decoder's own latent space
        h, k = mu, 1
        while f"s2enc_w{k}" in e:
            h = np.maximum(h @ e[f"s2enc_w{k}"] + e[f"s2enc_b{k}"], 0.0)
            k += 1
        return h @ e["s2mu_w"] + e["s2mu_b"], h @ e["s2logvar_w"] + e["s2logvar_b"]


def load_vae(path: str | Path | None = None) -> VAEModel:
    """Load VAE weights (default: the shipped MNIST VAE), checking every shape and value.

    The decoder is ``dec_w1, dec_b1, ... dec_wK, dec_bK`` (K >= 2; ReLU between layers,
    sigmoid out); ``hidden_max`` holds one input range for all hidden layers or one per layer.
    """
    data = _open(path, VAE_FILE)
    where = str(path or VAE_FILE)
    w1 = data.get("dec_w1")
    if w1 is None or w1.ndim != 2:
        raise BadInput(f"{where}: dec_w1 must be a (latent, hidden) matrix")
    n_layers = 1
    while f"dec_w{n_layers + 1}" in data:
        n_layers += 1
    if n_layers < 2:
        raise BadInput(f"{where}: missing array 'dec_w2' (the decoder needs >= 2 layers)")
    layers = []
    n_in = w1.shape[0]
    for k in range(1, n_layers + 1):
        w = data.get(f"dec_w{k}")
        n_out = w.shape[1] if w is not None and w.ndim == 2 else None
        layers.append(
            DecoderLayer(
                _check(f"dec_w{k}", w, (n_in, n_out), where),
                _check(f"dec_b{k}", data.get(f"dec_b{k}"), (n_out,), where),
                "relu" if k < n_layers else "sigmoid",
            )
        )
        n_in = n_out
    latent = w1.shape[0]
    shape = tuple(int(s) for s in data.get("image_shape", np.array([n_in])))
    if int(np.prod(shape)) != n_in:
        raise BadInput(f"{where}: image_shape {shape} does not hold {n_in} outputs")
    hm = np.atleast_1d(np.asarray(data.get("hidden_max", np.float32(0.0)), dtype=np.float64))
    if hm.size not in (1, n_layers - 1) or not np.all(np.isfinite(hm)) or np.any(hm <= 0):
        raise BadInput(
            f"{where}: hidden_max must be one finite number > 0 or one per hidden layer "
            f"({n_layers - 1}), got {hm.tolist()!r}"
        )
    hidden_max: float | tuple[float, ...] = (
        float(hm[0]) if hm.size == 1 else tuple(float(v) for v in hm)
    )
    encoder = {}
    if "enc_w" in data:
        enc_hidden = data["enc_w"].shape[1]
        encoder = {
            "enc_w": _check("enc_w", data["enc_w"], (n_in, enc_hidden), where),
            "enc_b": _check("enc_b", data.get("enc_b"), (enc_hidden,), where),
        }
        k = 2
        while f"enc_w{k}" in data:
            nxt = data[f"enc_w{k}"].shape[1] if data[f"enc_w{k}"].ndim == 2 else None
            encoder[f"enc_w{k}"] = _check(f"enc_w{k}", data[f"enc_w{k}"], (enc_hidden, nxt), where)
            encoder[f"enc_b{k}"] = _check(f"enc_b{k}", data.get(f"enc_b{k}"), (nxt,), where)
            enc_hidden = nxt
            k += 1
        encoder.update(
            {
                "mu_w": _check("mu_w", data.get("mu_w"), (enc_hidden, latent), where),
                "mu_b": _check("mu_b", data.get("mu_b"), (latent,), where),
                "logvar_w": _check("logvar_w", data.get("logvar_w"), (enc_hidden, latent), where),
                "logvar_b": _check("logvar_b", data.get("logvar_b"), (latent,), where),
            }
        )
        k, width = 1, latent
        while f"s2enc_w{k}" in data:  # second-stage encoder (two-stage VAE)
            w = data[f"s2enc_w{k}"]
            nxt = w.shape[1] if w.ndim == 2 else None
            encoder[f"s2enc_w{k}"] = _check(f"s2enc_w{k}", w, (width, nxt), where)
            encoder[f"s2enc_b{k}"] = _check(f"s2enc_b{k}", data.get(f"s2enc_b{k}"), (nxt,), where)
            width, k = nxt, k + 1
        if k > 1:
            for name in ("s2mu", "s2logvar"):
                encoder[f"{name}_w"] = _check(f"{name}_w", data.get(f"{name}_w"),
                                              (width, latent), where)
                encoder[f"{name}_b"] = _check(f"{name}_b", data.get(f"{name}_b"), (latent,), where)
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return VAEModel(layers, shape, hidden_max, encoder, meta)


def _conv_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid 2-D convolution (cross-correlation, as torch), ReLU, 2x2 max-pool; NCHW."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    win = sliding_window_view(x, (k, k), axis=(2, 3))  # (n, c, h-k+1, w-k+1, k, k)
    ho, wo = h - k + 1, wd - k + 1
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
    y = (cols @ w.reshape(o, c * k * k).T + b).reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
    np.maximum(y, 0.0, out=y)
    return y.reshape(n, o, ho // 2, 2, wo // 2, 2).max(axis=(3, 5))


@dataclass
class Classifier:
    """The locally trained MNIST CNN (conv16-pool-conv32-pool-fc64-fc10), numpy inference."""

    weights: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    batch: int = 500

    def _forward(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.weights
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise BadInput(f"classifier inputs must be (n, 28, 28) images, got {x.shape}")
        feats, logits = [], []
        for k in range(0, len(x), self.batch):
            y = _conv_relu_pool(x[k : k + self.batch, None], w["conv1_w"], w["conv1_b"])
            y = _conv_relu_pool(y, w["conv2_w"], w["conv2_b"])
            f = np.maximum(y.reshape(len(y), -1) @ w["fc1_w"] + w["fc1_b"], 0.0)
            feats.append(f)
            logits.append(f @ w["fc2_w"] + w["fc2_b"])
        if not feats:
            return np.zeros((0, w["fc1_b"].size), np.float32), np.zeros((0, 10), np.float32)
        return np.concatenate(feats), np.concatenate(logits)

    def features(self, images: np.ndarray) -> np.ndarray:
        """Penultimate-layer features (n, 64) of images in [0, 1]."""
        return self._forward(images)[0]

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features (n, 64) and class probabilities (n, 10), in one pass."""
        feats, logits = self._forward(images)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return feats, p / p.sum(axis=1, keepdims=True)


def load_classifier(path: str | Path | None = None) -> Classifier:
    """Load the classifier weights (default: the shipped MNIST classifier)."""
    data = _open(path, CLASSIFIER_FILE)
    where = str(path or CLASSIFIER_FILE)
    shapes = {
        "conv1_w": (16, 1, 5, 5),
        "conv1_b": (16,),
        "conv2_w": (32, 16, 5, 5),
        "conv2_b": (32,),
        "fc1_w": (512, 64),
        "fc1_b": (64,),
        "fc2_w": (64, 10),
        "fc2_b": (10,),
    }
    weights = {k: _check(k, data.get(k), s, where) for k, s in shapes.items()}
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return Classifier(weights, meta)

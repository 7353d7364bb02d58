"""A small DDPM for MNIST digits, inference in numpy, with the sampling noise from any source.

The model (``data/models/ddpm_mnist.npz``, trained by ``scripts/train_ddpm.py``) diffuses the
leading principal components of the digits (an orthogonal basis fitted on the training
digits; x0 = P^T (2 img - 1 - m) / s, with s = 1 for the shipped model, whose components
keep their pixel-space spread, or their standard deviations for a whitened one). An MLP
predicts the noise eps(x_t, t); sampling is ancestral DDPM (Ho et al. 2020) through the
x0 prediction (clipped to the pixel range only with ``clip=True``):

    x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t),
    x_(t-1) = c1_t x0 + c2_t x_t + sigma_t z_t   (the posterior q(x_(t-1) | x_t, x0)),

with ``z_t`` from the noise source: a callable ``noise(shape) -> array`` (software Gaussian,
a recorded array noise bank, or values drawn live through the bench). Each image consumes
``(T - 1) * d`` noise values plus ``d`` for x_T.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.special import expit

from ftjlab.errors import BadInput

MODEL_FILE = "ddpm_mnist.npz"
Noise = Callable[[tuple[int, ...]], np.ndarray]


def _silu(x: np.ndarray) -> np.ndarray:
    return x * expit(x)


@dataclass
class DDPM:
    """Weights of the noise-prediction MLP, the PCA basis and the beta schedule."""

    layers: list[tuple[np.ndarray, np.ndarray]]  # (in, out) matrices and biases
    temb: list[tuple[np.ndarray, np.ndarray]]  # time-embedding projection per hidden layer
    basis: np.ndarray  # (d, 784) orthonormal rows
    mean: np.ndarray  # (784,) in [-1, 1] pixel units
    scale: np.ndarray  # (d,) standard deviation of each component (whitening)
    betas: np.ndarray
    emb_dim: int
    meta: dict = field(default_factory=dict)
    clip: bool = False  # clip each predicted x0 to the pixel range (see sample)

    @property
    def steps(self) -> int:
        return int(self.betas.size)

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def noise_per_image(self) -> int:
        """Noise values one image consumes: x_T plus one vector per step but the last."""
        return self.dim * self.steps

    def _embedding(self, t: int) -> np.ndarray:
        half = self.emb_dim // 2
        freqs = np.exp(-np.log(10_000.0) * np.arange(half) / half)
        a = t * freqs
        return np.concatenate([np.sin(a), np.cos(a)]).astype(np.float32)

    def eps(self, x: np.ndarray, t: int) -> np.ndarray:
        """Predicted noise of ``x`` (n, d) at step ``t`` (0-based)."""
        e = self._embedding(t)
        h = x.astype(np.float32)
        for i, (w, b) in enumerate(self.layers[:-1]):
            tw, tb = self.temb[i]
            h = _silu(h @ w + b + (e @ tw + tb))
        w, b = self.layers[-1]
        return h @ w + b

    def to_images(self, x0: np.ndarray) -> np.ndarray:
        pix = ((x0 * self.scale) @ self.basis + self.mean + 1.0) / 2.0
        return np.clip(pix, 0.0, 1.0).reshape(-1, 28, 28).astype(np.float32)

    def sample(self, n: int, noise: Noise, batch: int = 500) -> np.ndarray:
        """``n`` digits (n, 28, 28) in [0, 1], every random number from ``noise``."""
        if n < 1:
            raise BadInput(f"images: need at least 1, got {n}")
        betas = self.betas
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        sigma = np.sqrt(betas * (1.0 - abar_prev) / (1.0 - abar))
        c_x0 = np.sqrt(abar_prev) * betas / (1.0 - abar)
        c_xt = np.sqrt(alphas) * (1.0 - abar_prev) / (1.0 - abar)
        out = []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            x = np.asarray(noise((m, self.dim)), dtype=np.float32)
            for t in range(self.steps - 1, -1, -1):
                eps = self.eps(x, t)
                x0 = (x - np.sqrt(1.0 - abar[t]) * eps) / np.sqrt(abar[t])
                if self.clip:
                    x0 = self._clip(x0)
                x = (c_x0[t] * x0 + c_xt[t] * x).astype(np.float32)
                if t > 0:
                    x = x + sigma[t] * np.asarray(noise((m, self.dim)), dtype=np.float32)
            out.append(self.to_images(x))
        return np.concatenate(out)

    def _clip(self, x0: np.ndarray) -> np.ndarray:
        """The predicted clean digit clipped to the pixel range [-1, 1] and projected back
        (DDPM's clipped x0 prediction, in the principal-component space)."""
        pix = np.clip((x0 * self.scale) @ self.basis + self.mean, -1.0, 1.0)
        return ((pix - self.mean) @ self.basis.T) / self.scale


def load_ddpm(path: str | Path | None = None) -> DDPM:
    """The shipped DDPM (or one at ``path``)."""
    try:
        if path is None:
            ref = resources.files("ftjlab.data.models").joinpath(MODEL_FILE)
            with resources.as_file(ref) as p, np.load(p, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        else:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise BadInput(f"DDPM weights {path or MODEL_FILE}: {exc}") from exc
    n_layers = int(data["n_layers"])
    layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(n_layers)]
    temb = [(data[f"tw{i}"], data[f"tb{i}"]) for i in range(n_layers - 1)]
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    scale = data.get("scale", np.ones(data["basis"].shape[0], np.float32))
    return DDPM(layers, temb, data["basis"], data["mean"], scale,
                data["betas"].astype(np.float64), int(data["emb_dim"]), meta)


def software_noise(seed: int) -> Noise:
    """Gaussian noise from numpy's PCG64."""
    rng = np.random.default_rng(seed)
    return lambda shape: rng.standard_normal(shape, dtype=np.float32)


@dataclass
class BankNoise:
    """Noise drawn from a recorded bank of values: the first pass in recorded order; when the
    bank is exhausted every further pass reads it in a new order (a permutation from
    ``seed``, so repeated passes do not repeat whole noise vectors). ``allow_reuse=False``
    refuses a request larger than the bank instead.

    ``standardise=True`` shifts and scales the bank to its own mean 0 and variance 1 (the
    measured ``bank_mean`` and ``bank_std`` are kept). A reused bank repeats its sampling error:
    a bank of 1,200 values has a mean off by ~0.03 by chance, and reused ~4e4 times that offset
    acts as a bias on every step of every image."""

    bank: np.ndarray
    allow_reuse: bool = True
    seed: int = 0
    drawn: int = 0
    standardise: bool = False

    def __post_init__(self) -> None:
        self.bank = np.asarray(self.bank, dtype=np.float32).ravel()
        self.bank = self.bank[np.isfinite(self.bank)]
        if self.bank.size == 0:
            raise BadInput("noise bank: no finite values")
        self.bank_mean = float(self.bank.mean())
        self.bank_std = float(self.bank.std())
        if self.standardise:
            if self.bank.size < 2 or self.bank_std == 0:
                raise BadInput("noise bank: standardising needs at least two distinct values")
            self.bank = ((self.bank - self.bank_mean) / self.bank_std).astype(np.float32)
        self._rng = np.random.default_rng(self.seed)
        self._order = np.arange(self.bank.size)

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(shape))
        if not self.allow_reuse and self.drawn + n > self.bank.size:
            raise BadInput(f"noise bank: {self.bank.size} values, the request needs more "
                           f"({self.drawn + n}) and reuse is off")
        out = np.empty(n, dtype=np.float32)
        k = 0
        while k < n:
            pos = self.drawn % self.bank.size
            if pos == 0 and self.drawn > 0:
                self._order = self._rng.permutation(self.bank.size)
            m = min(n - k, self.bank.size - pos)
            out[k:k + m] = self.bank[self._order[pos:pos + m]]
            k += m
            self.drawn += m
        return out.reshape(shape)

    @property
    def reuse(self) -> float:
        """Times each bank value was used on average."""
        return self.drawn / self.bank.size

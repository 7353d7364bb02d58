"""A small DDPM for MNIST digits, inference in numpy, with the sampling noise from any source.

The model (``data/models/ddpm_mnist.npz``, trained by ``scripts/train_ddpm.py``) diffuses the
28 x 28 pixels scaled to [-1, 1]. A convolutional U-Net (:class:`UNet`, the network of the
training script in numpy) predicts the noise eps(x_t, t) of the T-step forward process
(beta linear). Sampling is ancestral DDPM (Ho et al. 2020) on ``S`` of the T steps, respaced
as in Nichol & Dhariwal 2021 (abar kept at the chosen steps, betas recomputed from it),
through the x0 prediction clipped to the pixel range:

    x0 = clip((x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), -1, 1),
    x_(t-1) = c1_t x0 + c2_t x_t + sigma_t z_t   (the posterior q(x_(t-1) | x_t, x0)),

with ``z_t`` from the noise source: a callable ``noise(shape) -> array`` (software Gaussian,
a recorded array noise bank, or values drawn live through the bench). Each image consumes
784 values for x_T plus 784 for each of the S - 1 steps that add noise: 784 S in all.

Autoguidance (Karras et al., "Guiding a diffusion model with a bad version of itself",
NeurIPS 2024): a weight file may carry a second, weaker network of the same kind (``guide``,
stored under ``guide.<name>``); the noise prediction is then extrapolated away from it,
``eps = (1 + w) eps_net - w eps_guide``. The shipped guide is the shipped network's own
earlier training stage: both make the same kinds of errors, the guide more of them, so the
extrapolation removes errors rather than variety. It costs a second network pass per step and
no noise: the noise each image consumes is unchanged.
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
SIDE = 28
SAMPLE_STEPS = 50
GUIDE_PREFIX = "guide."  # the guide network's arrays in a weight file
Noise = Callable[[tuple[int, ...]], np.ndarray]


def _silu(x: np.ndarray) -> np.ndarray:
    return x * expit(x)


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1) -> np.ndarray:
    """2-d convolution of ``x`` (n, H, W, C) with ``w`` (3, 3, C, O), zero padding 1 (as
    ``torch.nn.Conv2d(C, O, 3, stride, padding=1)``), as one matrix product of the nine
    shifted copies."""
    _, h, wd, _ = x.shape
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.concatenate([xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride]
                           for i in range(3) for j in range(3)], axis=3)
    return cols @ w.reshape(-1, w.shape[3]) + b


def group_norm(x: np.ndarray, groups: int, gamma: np.ndarray, beta: np.ndarray,
               eps: float = 1e-5) -> np.ndarray:
    """``torch.nn.GroupNorm`` of ``x`` (n, H, W, C): consecutive channels form a group."""
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    count = h * w * (c // groups)
    mean = flat.sum(axis=1, dtype=np.float64).reshape(n, groups, -1).sum(axis=2) / count
    sq = np.einsum("npc,npc->nc", flat, flat, dtype=np.float64)
    var = np.maximum(sq.reshape(n, groups, -1).sum(axis=2) / count - mean**2, 0.0)
    inv = 1.0 / np.sqrt(var + eps)
    scale = np.repeat(inv, c // groups, axis=1) * gamma  # (n, c)
    shift = beta - np.repeat(mean, c // groups, axis=1) * scale
    return x * scale[:, None, None, :].astype(np.float32) + shift[:, None, None, :].astype(
        np.float32)


def _up(x: np.ndarray) -> np.ndarray:
    """Nearest-neighbour upsampling by 2."""
    return x.repeat(2, axis=1).repeat(2, axis=2)


@dataclass
class UNet:
    """The noise-prediction U-Net: 28 -> 14 -> 7 and back, one residual block (GroupNorm,
    SiLU, 3 x 3 convolutions, the time embedding added after the first) per level and
    additive skips. ``w`` holds the training script's parameters by name (convolutions
    (kh, kw, in, out), linear layers (in, out), the class embedding (classes + 1, dim)).

    ``classes > 0``: class-conditional; the class embedding (row ``classes`` is "no label")
    is added to the time embedding. ``attention``: one single-head self-attention layer on
    the 7 x 7 features after the middle block."""

    w: dict[str, np.ndarray]
    groups: int
    emb_dim: int
    classes: int = 0
    attention: bool = False

    def embedding(self, t: int) -> np.ndarray:
        half = self.emb_dim // 2
        freqs = np.exp(np.float32(-np.log(10_000.0))
                       * (np.arange(half, dtype=np.float32) / np.float32(half)))
        a = np.float32(t) * freqs
        e = np.concatenate([np.sin(a), np.cos(a)])[None, :]
        e = _silu(self._linear("t1", e))
        return _silu(self._linear("t2", e))

    def _linear(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _conv(self, name: str, x: np.ndarray, stride: int = 1) -> np.ndarray:
        w, b = self.w[f"{name}.weight"], self.w[f"{name}.bias"]
        if w.shape[0] == 1:
            return x @ w[0, 0] + b
        return conv3x3(x, w, b, stride)

    def _norm(self, name: str, x: np.ndarray) -> np.ndarray:
        return group_norm(x, self.groups, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _block(self, name: str, x: np.ndarray, e: np.ndarray) -> np.ndarray:
        h = self._conv(f"{name}.conv1", _silu(self._norm(f"{name}.norm1", x)))
        h = h + self._linear(f"{name}.temb", e)[:, None, None, :]
        h = self._conv(f"{name}.conv2", _silu(self._norm(f"{name}.norm2", h)))
        skip = x if f"{name}.skip.weight" not in self.w else self._conv(f"{name}.skip", x)
        return h + skip

    def _attend(self, h: np.ndarray) -> np.ndarray:
        n, hh, ww, c = h.shape
        qkv = self._conv("attn_qkv", self._norm("attn_norm", h)).reshape(n, hh * ww, 3, c)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        a = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(c))  # (n, hw, hw)
        a = np.exp(a - a.max(axis=2, keepdims=True))
        a /= a.sum(axis=2, keepdims=True)
        return h + self._conv("attn_out", (a @ v).reshape(n, hh, ww, c))

    def __call__(self, x: np.ndarray, t: int, y: np.ndarray | None = None) -> np.ndarray:
        """Predicted noise of ``x`` (n, 28, 28) at training step ``t`` (0-based), given the
        class labels ``y`` (n,) of a conditional network (None or ``classes``: no label)."""
        e = self.embedding(t)
        if self.classes:
            rows = np.full(len(x), self.classes) if y is None else np.asarray(y)
            e = e + self.w["cemb.weight"][rows]
        x = np.asarray(x, dtype=np.float32)[..., None]
        h1 = self._block("enc1", self._conv("inp", x), e)
        h2 = self._block("enc2", self._conv("down1", h1, 2), e)
        h = self._block("mid", self._conv("down2", h2, 2), e)
        if self.attention:
            h = self._attend(h)
        h = self._block("dec2", _up(h) + h2, e)
        h = self._block("dec1", self._conv("reduce", _up(h)) + h1, e)
        return self._conv("out", _silu(self._norm("norm_out", h)))[..., 0]


@dataclass
class DDPM:
    """The noise-prediction network, the training beta schedule and the sampling steps."""

    net: UNet
    train_betas: np.ndarray  # the T betas of training
    sample_steps: int = SAMPLE_STEPS
    meta: dict = field(default_factory=dict)
    clip: bool = True  # clip each predicted x0 to the pixel range
    # guidance weight w: eps = (1 + w) eps_net - w eps_ref, the reference being the weaker
    # ``guide`` network (autoguidance) or else a conditional network's label-free branch
    guidance: float = 0.0
    guide: UNet | None = None

    @property
    def steps(self) -> int:
        """Network evaluations (denoising steps) per image."""
        return int(self.schedule()[0].size)

    @property
    def dim(self) -> int:
        return SIDE * SIDE

    @property
    def passes_per_step(self) -> int:
        """Network passes per denoising step: 2 when guided, else 1."""
        guided = self.guide is not None or self.net.classes
        return 2 if guided and self.guidance != 0.0 else 1

    def noise_per_image(self) -> int:
        """Noise values one image consumes: x_T plus one image per step but the last."""
        return self.dim * self.steps

    def schedule(self) -> tuple[np.ndarray, np.ndarray]:
        """The training steps sampled (increasing) and their respaced betas."""
        big = self.train_betas.size
        if not 1 <= self.sample_steps <= big:
            raise BadInput(f"sampling steps: 1..{big}, got {self.sample_steps}")
        ts = np.unique(np.round(np.linspace(0, big - 1, self.sample_steps)).astype(int))
        abar = np.cumprod(1.0 - self.train_betas)[ts]
        return ts, 1.0 - abar / np.concatenate([[1.0], abar[:-1]])

    def eps(self, x: np.ndarray, t: int, y: np.ndarray | None = None) -> np.ndarray:
        """Predicted noise of ``x`` (n, 28, 28) at training step ``t`` (0-based); for a
        conditional network, of class ``y`` (n,); guided by the weaker network
        (autoguidance) or, without one, by the label-free branch:
        (1 + w) eps(x, y) - w eps_ref."""
        w = np.float32(self.guidance)
        if self.guide is not None and self.guidance != 0.0:
            return (1 + w) * self.net(x, t, y) - w * self.guide(x, t, y)
        if not self.net.classes or y is None or self.guidance == 0.0:
            return self.net(x, t, y)
        m = len(x)
        both = self.net(np.concatenate([x, x]), t,
                        np.concatenate([y, np.full(m, self.net.classes)]))
        return (1 + w) * both[:m] - w * both[m:]

    def labels(self, n: int) -> np.ndarray | None:
        """The class of each of ``n`` images of a conditional network: 0, 1, ..., 9, 0, ...
        (the training digits are 500 per class); None for an unconditional one. Fixed, so
        every random number of a sample still comes from the noise source."""
        return np.arange(n) % self.net.classes if self.net.classes else None

    def sample(self, n: int, noise: Noise, batch: int = 10) -> np.ndarray:
        """``n`` digits (n, 28, 28) in [0, 1], every random number from ``noise``."""
        if n < 1:
            raise BadInput(f"images: need at least 1, got {n}")
        labels = self.labels(n)
        ts, betas = self.schedule()
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        sigma = np.sqrt(betas * (1.0 - abar_prev) / (1.0 - abar))
        c_x0 = np.sqrt(abar_prev) * betas / (1.0 - abar)
        c_xt = np.sqrt(alphas) * (1.0 - abar_prev) / (1.0 - abar)
        shape = (SIDE, SIDE)
        out = []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            y = None if labels is None else labels[start:start + m]
            x = np.asarray(noise((m, *shape)), dtype=np.float32)
            for i in range(ts.size - 1, -1, -1):
                eps = self.eps(x, int(ts[i]), y)
                x0 = (x - np.sqrt(1.0 - abar[i]) * eps) / np.sqrt(abar[i])
                if self.clip:
                    x0 = np.clip(x0, -1.0, 1.0)
                x = (c_x0[i] * x0 + c_xt[i] * x).astype(np.float32)
                if i > 0:
                    x = x + np.float32(sigma[i]) * np.asarray(noise((m, *shape)), np.float32)
            out.append(np.clip((x + 1.0) / 2.0, 0.0, 1.0))
        return np.concatenate(out).astype(np.float32)


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
        meta = json.loads(str(data.pop("meta")))
        betas = data.pop("betas").astype(np.float64)
        guide_w = {k[len(GUIDE_PREFIX):]: data.pop(k) for k in list(data)
                   if k.startswith(GUIDE_PREFIX)}
        net = _unet(data, meta)
        guide = None
        if "guide" in meta:
            if not guide_w:
                raise KeyError("meta names a guide network but the file has no guide weights")
            guide = _unet(guide_w, meta["guide"])
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"DDPM weights {path or MODEL_FILE}: {exc}") from exc
    return DDPM(net, betas, int(meta.get("sample_steps", SAMPLE_STEPS)), meta,
                guidance=float(meta.get("guidance", 0.0)), guide=guide)


def _unet(weights: dict[str, np.ndarray], meta: dict) -> UNet:
    """The numpy U-Net of one network's weights and architecture meta."""
    return UNet(weights, int(meta["groups"]), int(meta["emb"]), int(meta.get("classes", 0)),
                bool(meta.get("attention", False)))


def reference_error(net: UNet, arrays: dict[str, np.ndarray], prefix: str = "") -> float:
    """Largest |numpy - torch| of ``net`` on the torch reference stored with its weights
    (``<prefix>check_x``, ``check_t`` in pairs of equal steps, ``check_eps``, ``check_y`` for a
    conditional network)."""
    x, t, want = (arrays[prefix + k] for k in ("check_x", "check_t", "check_eps"))
    y = arrays.get(prefix + "check_y")
    got = np.concatenate([net(x[i:i + 2], int(t[i]), None if y is None else y[i:i + 2])
                          for i in range(0, len(t), 2)])
    return float(np.abs(got - want).max())


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

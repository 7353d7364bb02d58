"""The side-by-side grids of the README and ``data/models/README.md``: software generations of
the previous VAE (``vae_mnist_v1.npz``) and of the shipped one (``vae_mnist.npz``), and the
metrics table row of each (n images against the 1,000 held-out digits).

    python scripts/train_vae_figures.py            # docs/vae/software_old.png, software_new.png
    python scripts/train_vae_figures.py --metrics  # also print FCD, confidence, ... at n = 8,000

Numpy only (no torch). The grid shows the first 64 of the n images decoded from numpy N(0, I)
latents with seed ``--seed``; the metrics use all n.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftjlab.vae.images import grid, write_png  # noqa: E402
from ftjlab.vae.model import load_vae  # noqa: E402

MODELS = ROOT / "data" / "models"
FIGURES = (("old", MODELS / "vae_mnist_v1.npz"), ("new", MODELS / "vae_mnist.npz"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=8000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--metrics", action="store_true", help="print the metrics of each decoder")
    p.add_argument("--out", default=str(ROOT / "docs" / "vae"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaluator = None
    if args.metrics:
        from ftjlab.vae.metrics import Evaluator

        evaluator = Evaluator()
        print("| decoder | weights | cells | FCD | confidence | entropy / ln 10 | classes "
              "| precision | recall |")
    for name, path in FIGURES:
        model = load_vae(path)
        z = np.random.default_rng(args.seed).standard_normal((args.n, model.latent_dim))
        images = model.decode(z)
        png = write_png(out / f"software_{name}.png", grid(images[:64], cols=8))
        print(f"wrote {png}", flush=True)
        if evaluator is not None:
            m = evaluator.evaluate(images)
            print(f"| {name} {model.architecture} | {model.n_weights:,} | {2 * model.n_weights:,} "
                  f"| {m.fcd:.1f} | {m.confidence:.3f} | {m.class_entropy / math.log(10):.3f} "
                  f"| {m.classes_present} | {m.precision:.3f} | {m.recall:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""DDPM with switching noise: sampling rate in numpy and image quality (FCD, classes,
precision / recall with the project's classifier) with the shipped array noise bank against
software noise, and the software model against real digits and the shipped VAE.

One noise seed is not enough to compare sources at n = 2,000: software noise alone moves the
FCD by about +-7 % from seed to seed. So each source is sampled with three seeds (software:
PCG64 seeds 1, 2, 3; bank: reading orders 1, 2, 3) and the criterion is the ratio of the mean
FCDs. The runs go to a pool of two processes of one BLAS thread each (the machine's cores).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ftjlab.benchmarks import BenchResult

SEEDS = (1, 2, 3)


def _sample(source: str, seed: int, n: int) -> tuple[np.ndarray, float, dict]:
    """``n`` digits of the shipped DDPM with one noise source; images, seconds, bank facts."""
    from threadpoolctl import threadpool_limits

    from ftjlab.switching.ddpm import BankNoise, load_ddpm, software_noise
    from ftjlab.switching.noise import load_noise_bank

    model = load_ddpm()
    if source == "software":
        noise, facts = software_noise(seed), {}
    else:
        values, info = load_noise_bank()
        noise = BankNoise(values, seed=seed, standardise=source == "bank")
        facts = {"size": info["size"], "mean": noise.bank_mean, "sd": noise.bank_std}
    t0 = time.perf_counter()
    with threadpool_limits(1):
        images = model.sample(n, noise)
    if facts:
        facts["reuse"] = noise.reuse
    return images, time.perf_counter() - t0, facts


def _spread(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def bench_ddpm(quick: bool) -> list[BenchResult]:
    """DDPM sampling images/s in numpy; mean FCD over three seeds with the shipped array noise
    bank (standardised to its own mean and SD) vs software noise on the same n; the bank as
    recorded (one seed, information); software FCD vs the real-vs-real FCD of two disjoint
    halves of the digits and vs the shipped VAE's."""
    from importlib import resources

    from ftjlab.switching.ddpm import load_ddpm
    from ftjlab.vae.datasets import mnist_digits
    from ftjlab.vae.generate import software_images
    from ftjlab.vae.metrics import Evaluator, _gaussian, frechet_distance
    from ftjlab.vae.model import load_vae

    n = 500 if quick else 2000
    seeds = SEEDS[:1] if quick else SEEDS
    jobs = [(s, seed, n) for s in ("software", "bank") for seed in seeds]
    jobs.append(("recorded", seeds[0], n // 4))
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        runs = list(pool.map(_sample, *zip(*jobs, strict=True)))
    model, ev = load_ddpm(), Evaluator()
    scores = {}
    for (source, seed, _), (images, _, facts) in zip(jobs, runs, strict=True):
        m = ev.evaluate(images).as_dict()
        if model.net.classes:
            probs = ev.classifier.features_and_probabilities(images)[1]
            m["agree"] = float(np.mean(probs.argmax(axis=1) == model.labels(len(images))))
        scores.setdefault(source, []).append((seed, m, facts))
    fcd = {s: [m["fcd"] for _, m, _ in v] for s, v in scores.items()}
    fs, fb = float(np.mean(fcd["software"])), float(np.mean(fcd["bank"]))

    def desc(source: str) -> str:
        ms = [m for _, m, _ in scores[source]]
        agree = ("" if "agree" not in ms[0] else
                 f", label agreement {min(m['agree'] for m in ms):.3f}+")
        return (f"{source} FCD {_spread(fcd[source])} (mean {np.mean(fcd[source]):.2f}), "
                f"classes {min(m['classes_present'] for m in ms)}+, "
                f"P {_spread([m['precision'] for m in ms])}, "
                f"R {_spread([m['recall'] for m in ms])}{agree}")

    facts = scores["bank"][0][2]
    raw_seed, raw, _ = scores["recorded"][0]
    x, _ = mnist_digits()
    feats = ev.classifier.features(x)
    idx = np.random.default_rng(0).permutation(len(x))
    half = len(x) // 2
    rr = frechet_distance(*_gaussian(feats[idx[:half]]), *_gaussian(feats[idx[half:]]))
    # a perfect generator at this n: n real training digits against the held-out reference
    ref = resources.files("ftjlab.data.models").joinpath("mnist_heldout.npz")
    with resources.as_file(ref) as path, np.load(path) as f:
        train = np.setdiff1d(np.arange(len(x)), f["indices"])
    floor = ev.evaluate(x[np.random.default_rng(0).choice(train, n, replace=False)],
                        precision_recall=False).fcd
    vae = ev.evaluate(software_images(load_vae(), n, np.random.default_rng(3)),
                      precision_recall=False)
    rate = n / float(np.mean([sec for (s, _, _), (_, sec, _) in zip(jobs, runs, strict=True)
                              if s == "software"]))

    def target(value: float) -> float | None:
        # the targets hold at n = 2,000 over three seeds; at the quick n = 500 FCD's bias alone
        # puts real digits at 3.6 x the halves' FCD, and one seed moves it by +-7 %
        return None if quick else value

    kind = ("autoguidance" if model.guide is not None else
            "class-conditional" if model.net.classes else "")
    guide = (f", {kind} w = {model.guidance:g} ({model.passes_per_step} network passes per "
             f"step)" if kind else "")
    return [
        BenchResult("switching.ddpm_images_per_s", rate, 1.0, "images/s", None,
                    higher_is_better=True,
                    note=f"numpy, one thread, {model.steps} U-Net steps per image{guide}, "
                    f"{model.noise_per_image()} noise values per image"),
        BenchResult("switching.ddpm_fcd_bank_over_software", fb, fs, "FCD ratio", target(1.10),
                    note=f"n = {n} per run, mean of {len(seeds)} seeds per source: "
                    f"{desc('bank')}; {desc('software')}; bank {facts['size']} values "
                    f"standardised (recorded mean {facts['mean']:+.4f}, sd {facts['sd']:.4f}), "
                    f"each used {facts['reuse']:.0f} times per run"),
        BenchResult("switching.ddpm_fcd_raw_bank_over_software", raw["fcd"],
                    fcd["software"][0], "FCD ratio", None,
                    note=f"the bank as recorded, n = {n // 4}, order {raw_seed}: FCD "
                    f"{raw['fcd']:.2f} (classes {raw['classes_present']}), against software "
                    f"seed {seeds[0]} at n = {n} (a smaller n scores higher)"),
        BenchResult("switching.ddpm_fcd_over_real_halves", fs, rr, "FCD ratio", target(4.0),
                    note=f"software mean FCD {fs:.2f}; real-vs-real halves {rr:.2f}; {n} real "
                    f"training digits against the held-out reference (a perfect generator at "
                    f"this n) {floor:.2f}"),
        BenchResult("switching.ddpm_fcd_over_vae", fs, vae.fcd, "FCD ratio", 1.0,
                    note=f"VAE software FCD {vae.fcd:.2f} at n = {n}"),
    ]

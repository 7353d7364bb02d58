"""DDPM with switching noise: sampling rate in numpy and image quality (FCD, classes,
precision / recall with the project's classifier) with the shipped array noise bank against
software noise, and the software model against real digits and the shipped VAE."""

from __future__ import annotations

import numpy as np

from ftjlab.benchmarks import BenchResult


def bench_ddpm(quick: bool) -> list[BenchResult]:
    """DDPM sampling images/s in numpy; FCD with the shipped array noise bank (standardised to
    its own mean and SD, and as recorded) vs software noise on the same n; software FCD vs the
    real-vs-real FCD of two disjoint halves of the digits and vs the shipped VAE's."""
    from importlib import resources

    from ftjlab.switching.ddpm import BankNoise, load_ddpm, software_noise
    from ftjlab.switching.diffusion import diffuse
    from ftjlab.switching.noise import load_noise_bank
    from ftjlab.vae.datasets import mnist_digits
    from ftjlab.vae.generate import software_images
    from ftjlab.vae.metrics import Evaluator, _gaussian, frechet_distance
    from ftjlab.vae.model import load_vae

    n = 500 if quick else 2000
    model = load_ddpm()
    ev = Evaluator()
    soft = diffuse(model, n, software_noise(1), "software", ev)
    values, info = load_noise_bank()
    noise = BankNoise(values, seed=2, standardise=True)
    bank = diffuse(model, n, noise, "bank", ev, bank=noise)
    raw = diffuse(model, n, BankNoise(values, seed=2), "bank", ev, precision_recall=False)
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
    fs, fb, fr = soft.metrics["fcd"], bank.metrics["fcd"], raw.metrics["fcd"]
    return [
        BenchResult("switching.ddpm_images_per_s", n / soft.seconds, 1.0, "images/s", None,
                    higher_is_better=True,
                    note=f"numpy, {model.steps} U-Net steps per image, "
                    f"{model.noise_per_image()} noise values per image"),
        BenchResult("switching.ddpm_fcd_bank_over_software", fb, fs, "FCD ratio", 1.10,
                    note=f"n = {n}: bank {fb:.2f} (classes {bank.metrics['classes_present']}, "
                    f"P/R {bank.metrics['precision']:.3f}/{bank.metrics['recall']:.3f}), "
                    f"software {fs:.2f} (classes {soft.metrics['classes_present']}, P/R "
                    f"{soft.metrics['precision']:.3f}/{soft.metrics['recall']:.3f}); bank "
                    f"{info['size']} values standardised (recorded mean {noise.bank_mean:+.4f}, "
                    f"sd {noise.bank_std:.4f}), each used {noise.reuse:.0f} times"),
        BenchResult("switching.ddpm_fcd_raw_bank_over_software", fr, fs, "FCD ratio", None,
                    note=f"n = {n}: the same bank as recorded {fr:.2f} (classes "
                    f"{raw.metrics['classes_present']})"),
        BenchResult("switching.ddpm_fcd_over_real_halves", fs, rr, "FCD ratio", 4.0,
                    note=f"real-vs-real halves {rr:.2f}; {n} real training digits against the "
                    f"held-out reference (a perfect generator at this n) {floor:.2f}"),
        BenchResult("switching.ddpm_fcd_over_vae", fs, vae.fcd, "FCD ratio", 1.0,
                    note=f"VAE software FCD {vae.fcd:.2f} at n = {n}"),
    ]

"""The shipped DDPM in numpy, its noise sources, and bank checks."""

from __future__ import annotations

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.switching.ddpm import BankNoise, load_ddpm, software_noise
from ftjlab.switching.diffusion import check_bank_size


def test_ddpm_denoises_better_than_the_gaussian_optimum():
    """The numpy network, on held-out digits noised by the forward process, predicts the noise
    better than the best linear predictor (the optimum for Gaussian data with the digits'
    per-component variances); sampling gives digit-shaped images of every class."""
    from ftjlab.vae.datasets import load_heldout_digits
    from ftjlab.vae.model import load_classifier

    model = load_ddpm()
    x, _ = load_heldout_digits()
    z = ((x.reshape(len(x), -1) * 2 - 1 - model.mean) @ model.basis.T) / model.scale
    var = z.var(axis=0)
    abar = np.cumprod(1 - model.betas)
    rng = np.random.default_rng(0)
    for level in (0.7, 0.3):
        t = int(np.argmin(np.abs(abar - level)))
        a, b = np.sqrt(abar[t]), np.sqrt(1 - abar[t])
        eps = rng.standard_normal(z.shape).astype(np.float32)
        xt = (a * z + b * eps).astype(np.float32)
        mse = np.mean((model.eps(xt, t) - eps) ** 2)
        linear = np.mean((b * xt / (a**2 * var + b**2) - eps) ** 2)
        assert mse < 0.75 * linear, (t, mse, linear)
    source, drawn = software_noise(3), []

    def counted(shape):
        drawn.append(int(np.prod(shape)))
        return source(shape)

    images = model.sample(48, counted, batch=32)
    assert images.shape == (48, 28, 28) and images.min() >= 0 and images.max() <= 1
    probs = load_classifier().features_and_probabilities(images)[1]
    assert np.unique(probs.argmax(axis=1)).size == 10
    # every random number comes from the source, and the accounting says how many
    assert sum(drawn) == 48 * model.noise_per_image() == 48 * model.dim * model.steps


def test_bank_noise_order_and_reuse():
    bank = BankNoise(np.arange(10, dtype=np.float32), seed=1)
    first = bank((2, 5))
    np.testing.assert_array_equal(first.ravel(), np.arange(10))  # recorded order first
    second = bank((10,))
    assert sorted(second) == list(range(10)) and not np.array_equal(second, np.arange(10))
    assert bank.reuse == 2.0
    std = BankNoise(np.arange(10, dtype=np.float32) * 2 + 3, standardise=True)
    v = std((10,))
    assert std.bank_mean == 12.0 and std.bank_std == pytest.approx(np.sqrt(33))
    assert abs(v.mean()) < 1e-6 and v.var() == pytest.approx(1.0, abs=1e-6)
    strict = BankNoise(np.arange(10, dtype=np.float32), allow_reuse=False)
    with pytest.raises(BadInput, match="reuse is off"):
        strict((11,))


def test_a_bank_too_small_is_refused():
    check_bank_size(1000, 1_000_000, max_reuse=1000)
    with pytest.raises(BadInput, match="too few"):
        check_bank_size(999, 1_000_000, max_reuse=1000)


def test_diffuse_refuses_bad_banks_before_sampling(tmp_path, capsys):
    from ftjlab.cli import main
    from ftjlab.store import RunWriter, StreamSpec

    assert main(["diffuse", "--modes", "bank", "-n", "10"]) == 2
    assert "--bank" in capsys.readouterr().err
    other = RunWriter.create(tmp_path, "conductance-map", {}, {},
                             {"noise": StreamSpec(np.float64, "1", (2,))})
    other.append("noise", np.zeros((5, 2)))
    other.finish("completed")
    assert main(["diffuse", "--modes", "bank", "--bank", str(other.path)]) == 2
    assert "'conductance-map' run, not switching-noise" in capsys.readouterr().err
    small = RunWriter.create(tmp_path, "switching-noise", {"schedule": "constant"}, {},
                             {"noise": StreamSpec(np.float64, "1", (2,))})
    small.append("noise", np.ones((50, 2)))
    small.finish("completed")
    assert main(["diffuse", "--modes", "bank", "--bank", str(small.path), "-n", "2000"]) == 2
    err = capsys.readouterr().err
    assert "100 values are too few" in err and "Traceback" not in err

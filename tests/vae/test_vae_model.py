"""Shipped weights load with numpy only, are checked, and behave."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.vae.datasets import load_heldout_digits
from ftjlab.vae.model import load_classifier, load_vae


def test_shipped_vae_shapes_and_decode(vae):
    assert vae.latent_dim == 16
    # two-stage VAE: the second stage's decoder (16->64->64) joined to the first stage's
    # (its output layer merged with the first stage's input layer: one matrix product)
    assert [la.weight.shape for la in vae.layers] == [(16, 64), (64, 64), (64, 64), (64, 784)]
    assert [la.activation for la in vae.layers] == ["relu", "relu", "relu", "sigmoid"]
    assert len(vae.hidden_max) == 3 and all(h > 0 for h in vae.hidden_max)
    assert vae.image_shape == (28, 28)
    img = vae.decode(np.random.default_rng(0).standard_normal((10, 16)))
    assert img.shape == (10, 28, 28)
    assert img.min() >= 0 and img.max() <= 1
    assert vae.meta["script"] == "scripts/train_vae.py"


def test_vae_reconstructs_held_out_digits(vae):
    """Encoder (both stages) and decoder belong together: a held-out digit's reconstruction
    is far closer to it than to another digit (the two-stage round trip through the second
    stage's mean is lossy: MSE 0.038 against 0.079 for a mismatched digit)."""
    images, _ = load_heldout_digits()
    mu, _ = vae.encode(images[:200])
    rec = vae.decode(mu)
    mse = np.mean((rec - images[:200]) ** 2)
    mismatched = np.mean((rec - np.roll(images[:200], 1, axis=0)) ** 2)
    assert mse < 0.045 and mse < 0.6 * mismatched


def test_classifier_accuracy_on_held_out_digits():
    images, labels = load_heldout_digits()
    clf = load_classifier()
    _, p = clf.features_and_probabilities(images)
    assert np.mean(p.argmax(axis=1) == labels) >= 0.95
    assert clf.features(images[:3]).shape == (3, 64)


def test_held_out_digits_are_stratified():
    images, labels = load_heldout_digits()
    assert images.shape == (1000, 28, 28)
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 100))


def test_no_torch_at_run_time():
    code = (
        "import sys, ftjlab.vae.model, ftjlab.vae.generate, ftjlab.vae.metrics, "
        "ftjlab.vae.mapping, ftjlab.vae.latents, ftjlab.vae.datasets; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_bad_weight_files(tmp_path):
    with resources.as_file(resources.files("ftjlab.data.models") / "vae_mnist.npz") as p:
        good = dict(np.load(p))
    last = max(int(k[5:]) for k in good if k.startswith("dec_w"))
    wrong = dict(good, **{f"dec_w{last}": good[f"dec_w{last}"][:, :100],
                          f"dec_b{last}": good[f"dec_b{last}"][:100]})
    with pytest.raises(BadInput, match="image_shape"):
        load_vae(_save(tmp_path / "a.npz", **wrong))
    wrong = dict(good, dec_w2=good["dec_w2"][:, :10], dec_b2=good["dec_b2"][:10])
    with pytest.raises(BadInput, match=r"dec_w3 has shape \(64, 64\), expected \(10, 64\)"):
        load_vae(_save(tmp_path / "a2.npz", **wrong))
    wrong = dict(good, dec_b1=good["dec_b1"][:10])
    with pytest.raises(BadInput, match=r"dec_b1 has shape \(10,\)"):
        load_vae(_save(tmp_path / "b.npz", **wrong))
    nan = dict(good)
    nan["dec_w1"] = good["dec_w1"].copy()
    nan["dec_w1"][0, 0] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        load_vae(_save(tmp_path / "c.npz", **nan))
    missing = {k: v for k, v in good.items() if k != "dec_w2"}
    with pytest.raises(BadInput, match="dec_w2"):
        load_vae(_save(tmp_path / "d.npz", **missing))
    with pytest.raises(BadInput, match="cannot read"):
        load_vae(tmp_path / "nope.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(BadInput, match="cannot read"):
        load_vae(tmp_path / "text.npz")
    with pytest.raises(BadInput, match="conv1_w"):
        load_classifier(_save(tmp_path / "e.npz", conv1_w=np.zeros((3, 3))))
    meta = json.loads(str(good["meta"]))
    assert meta["seed"] == 2026

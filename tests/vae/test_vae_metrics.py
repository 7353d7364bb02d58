"""Fréchet distance, precision/recall and the classifier-based evaluator, with numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.vae.datasets import load_heldout_digits
from ftjlab.vae.metrics import frechet_distance, knn_radii, precision_recall


def test_frechet_distance_closed_forms():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    # diagonal: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    expect = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expect)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    s = a @ a.T
    assert frechet_distance(mu1[:2], s[:2, :2], mu1[:2], s[:2, :2]) == pytest.approx(0, abs=1e-9)
    # a singular covariance is fine
    sing = np.zeros((3, 3))
    assert frechet_distance(mu1, sing, mu1, np.eye(3)) == pytest.approx(3.0)


def test_precision_recall_numbers():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    # generated samples covering half the real manifold: full precision, about half recall
    half = real[real[:, 0] > 0]
    p, r = precision_recall(real, half)
    assert p == 1.0
    assert 0.4 < r < 0.75
    radii = knn_radii(np.array([[0.0], [1.0], [3.0], [6.0]]), k=1)
    np.testing.assert_allclose(radii, [1, 1, 4, 9])
    with pytest.raises(BadInput):
        precision_recall(real[:3], real)


def test_evaluator_on_real_digits(evaluator):
    """Real held-out digits against themselves: FCD 0, every class, confident classifier."""
    images, _ = load_heldout_digits()
    m = evaluator.evaluate(images)
    assert m.fcd == pytest.approx(0, abs=1e-3)  # of FCDs ~100 for generated digits
    assert m.classes_present == 10
    assert m.class_entropy == pytest.approx(math.log(10), abs=0.01)
    assert m.confidence > 0.9
    assert m.precision == m.recall == 1.0
    # noise is far from digits
    noise = np.random.default_rng(2).random((500, 28, 28)).astype(np.float32)
    bad = evaluator.evaluate(noise)
    assert bad.fcd > 10 * evaluator.evaluate(images[::2]).fcd  # every other digit: all classes
    assert bad.precision < 0.05


def test_evaluator_bad_input(evaluator):
    with pytest.raises(BadInput):
        evaluator.evaluate(np.zeros((2, 28, 28)))
    with pytest.raises(BadInput):
        evaluator.evaluate(np.full((10, 28, 28), np.nan))

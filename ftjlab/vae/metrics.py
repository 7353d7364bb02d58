"""Image-quality metrics in the features of the locally trained MNIST classifier.

* **FCD** - Fréchet distance between Gaussians fitted to the classifier's penultimate features
  of generated and held-out real digits, ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^1/2)``
  (FID with a local network; biased upward at small n, so compare at equal n).
* **confidence** - mean top-class probability of the generated images.
* **class coverage** - entropy (nats) of the histogram of predicted classes (ln 10 = uniform).
* **precision / recall** - Kynkäänniemi et al. 2019: k-NN hyperspheres (k = 3) around real
  (generated) features; precision is the share of generated samples inside the real manifold,
  recall the share of real samples inside the generated one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.datasets import load_heldout_digits
from ftjlab.vae.model import Classifier, load_classifier

LN10 = float(np.log(10.0))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance of two Gaussians; the matrix square root via symmetric eigenproblems
    (``Tr (S1 S2)^1/2 = sum sqrt(eig(S1^1/2 S2 S1^1/2))``), stable for singular covariances."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    lam, u = np.linalg.eigh(s1)
    root1 = (u * np.sqrt(np.clip(lam, 0.0, None))) @ u.T
    m = root1 @ s2 @ root1
    tr_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)


def _gaussian(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(feats, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sq_dists(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    bb = np.einsum("ij,ij->i", b, b)
    out = np.empty((len(a), len(b)))
    for k in range(0, len(a), chunk):
        x = a[k : k + chunk]
        out[k : k + chunk] = np.einsum("ij,ij->i", x, x)[:, None] + bb[None, :] - 2 * x @ b.T
    return np.maximum(out, 0.0)


def knn_radii(feats: np.ndarray, k: int = 3) -> np.ndarray:
    """Squared distance of every sample to its k-th nearest other sample."""
    d = _sq_dists(feats, feats)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (k-NN manifolds) of ``fake`` against ``real`` features."""
    if len(real) <= k or len(fake) <= k:
        raise BadInput(f"precision/recall need more than k = {k} samples on each side")
    d = _sq_dists(fake, real)  # (fake, real)
    precision = float(np.mean(np.any(d <= knn_radii(real, k)[None, :], axis=1)))
    recall = float(np.mean(np.any(knn_radii(fake, k)[None, :] >= d.T, axis=1)))
    return precision, recall


_precision_recall = precision_recall


@dataclass
class ImageMetrics:
    """Quality figures of one set of generated images (all against the same real reference)."""

    n: int
    fcd: float
    confidence: float
    class_entropy: float
    classes_present: int
    precision: float
    recall: float
    class_counts: list[int]

    def as_dict(self) -> dict:
        return asdict(self)


class Evaluator:
    """Scores generated digits against held-out real ones, in the classifier's features.

    The real features, their Gaussian and their k-NN radii are computed once.
    """

    def __init__(
        self,
        classifier: Classifier | None = None,
        real_images: np.ndarray | None = None,
        k: int = 3,
    ) -> None:
        self.classifier = classifier or load_classifier()
        if real_images is None:
            real_images, _ = load_heldout_digits()
        self.k = k
        self.real_features = self.classifier.features(real_images).astype(np.float64)
        self.real_mu, self.real_sigma = _gaussian(self.real_features)

    def evaluate(self, images: np.ndarray, precision_recall: bool = True) -> ImageMetrics:
        """All metrics of ``images`` (n, 28, 28) in [0, 1] (precision and recall NaN when not
        asked for: their k-NN radii cost O(n^2))."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3 or len(images) <= self.k:
            raise BadInput(
                f"need more than {self.k} images of shape (n, 28, 28), got {images.shape}"
            )
        if not np.all(np.isfinite(images)):
            raise BadInput("generated images contain NaN or inf")
        feats, probs = self.classifier.features_and_probabilities(images)
        mu, sigma = _gaussian(feats)
        counts = np.bincount(probs.argmax(axis=1), minlength=10)
        p = counts / counts.sum()
        entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
        precision = recall = float("nan")
        if precision_recall:
            precision, recall = _precision_recall(self.real_features, feats, self.k)
        return ImageMetrics(
            n=len(images),
            fcd=frechet_distance(self.real_mu, self.real_sigma, mu, sigma),
            confidence=float(probs.max(axis=1).mean()),
            class_entropy=entropy,
            classes_present=int(np.count_nonzero(counts)),
            precision=precision,
            recall=recall,
            class_counts=counts.tolist(),
        )

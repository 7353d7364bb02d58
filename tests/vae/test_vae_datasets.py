"""Image folders in CelebA's layout, on a small generated fixture (JPEGs written by Pillow)."""

from __future__ import annotations

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.vae.datasets import load_image_folder, stratified_split

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def celeba(tmp_path):
    """Six 178 x 218 'faces' (CelebA's aligned size): a bright square on a coloured ground,
    plus the partition table (4 train, 1 valid, 1 test)."""
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    lines = []
    for k in range(6):
        rgb = np.zeros((218, 178, 3), dtype=np.uint8)
        rgb[..., 0] = 40 * k  # red ground grows with k
        rgb[79:139, 59:119] = 255  # centred white 60 x 60 square
        name = f"{k + 1:06d}.jpg"
        Image.fromarray(rgb).save(folder / name, quality=95)
        lines.append(f"{name} {0 if k < 4 else k - 3}")
    (folder / "notes.txt").write_text("not an image")
    (tmp_path / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_grayscale_resized_in_name_order(celeba):
    x = load_image_folder(celeba, size=32)
    assert x.shape == (6, 32, 32) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert x[0, 16, 16] == pytest.approx(1.0, abs=0.03)  # the square's centre
    corner = x[:, 0, 0]
    assert np.all(np.diff(corner) > 0)  # ground luma rises with the red level: name order
    assert corner[3] == pytest.approx(0.299 * 120 / 255, abs=0.03)  # ITU-R 601 luma


def test_rgb_crop_limit_and_partition(celeba):
    x = load_image_folder(celeba / "img_align_celeba", size=(16, 24), grayscale=False, limit=2)
    assert x.shape == (2, 16, 24, 3)
    np.testing.assert_allclose(x[1, 0, 0], [40 / 255, 0, 0], atol=0.03)
    crop = load_image_folder(celeba, size=20, crop=60)  # exactly the white square
    assert crop.min() > 0.9
    assert load_image_folder(celeba, size=8, partition="train").shape[0] == 4
    assert load_image_folder(celeba, size=8, partition="test").shape[0] == 1


def test_bad_folders(tmp_path, celeba):
    with pytest.raises(BadInput, match="img_align_celeba"):
        load_image_folder(tmp_path / "missing")
    empty = tmp_path / "empty" / "img_align_celeba"
    empty.mkdir(parents=True)
    with pytest.raises(BadInput, match=r"no \.jpg"):
        load_image_folder(empty.parent)
    with pytest.raises(BadInput, match="partition"):
        load_image_folder(celeba, partition="holdout")
    with pytest.raises(BadInput, match="size"):
        load_image_folder(celeba, size=0)


def test_stratified_split():
    labels = np.repeat(np.arange(10), 50)
    train, held = stratified_split(labels, 5, seed=1)
    assert held.size == 50 and train.size == 450
    assert np.intersect1d(train, held).size == 0
    np.testing.assert_array_equal(np.bincount(labels[held]), np.full(10, 5))
    again = stratified_split(labels, 5, seed=1)
    np.testing.assert_array_equal(again[1], held)
    with pytest.raises(BadInput):
        stratified_split(labels, 50, seed=1)


def test_training_script_on_an_image_folder(celeba, tmp_path):
    """The training script trains the same VAE on a CelebA-layout folder (needs the train
    extra); the result loads with numpy and decodes images of the folder's size."""
    pytest.importorskip("torch")
    import subprocess
    import sys
    from pathlib import Path

    from ftjlab.vae.model import load_vae

    script = Path(__file__).resolve().parents[2] / "scripts" / "train_vae.py"
    out = tmp_path / "models"
    args = [sys.executable, str(script), "--dataset", "celeba", "--data-dir", str(celeba),
            "--image-size", "12", "--crop", "120", "--epochs", "2", "--batch", "4",
            "--latent", "4", "--hidden", "8", "--enc-hidden", "16", "--out", str(out)]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    vae = load_vae(out / "vae_celeba.npz")
    assert vae.image_shape == (12, 12)
    assert vae.decode(np.zeros((3, 4))).shape == (3, 12, 12)
    assert vae.meta["dataset"] == "celeba"

"""Image grids as PNG files, written with the standard library (zlib) only."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput


def grid(images: np.ndarray, cols: int = 8, pad: int = 2) -> np.ndarray:
    """Tile (n, H, W) images in [0, 1] into one (rows*(H+pad)+pad, cols*(W+pad)+pad) image."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or len(images) == 0:
        raise BadInput(f"grid needs (n, H, W) images, got {images.shape}")
    n, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = images[k]
    return out


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a 2-D image in [0, 1] as an 8-bit grayscale PNG."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise BadInput(f"write_png needs a 2-D image, got {a.shape}")
    pixels = np.rint(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8)
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    path = Path(path)
    path.write_bytes(png)
    return path

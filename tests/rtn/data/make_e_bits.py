"""Regenerate e_bits_1e6.bin: the first 1,000,000 bits of the binary expansion of e
(10.1011011111100001...), the "data.e" sequence SP 800-22's examples and Appendix B use,
packed with numpy.packbits (most significant bit first). Run: python make_e_bits.py"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def e_bits(nbits: int) -> str:
    """First ``nbits`` bits of e in binary (starting with the integer part '10'), exact:
    e = 1 + sum_{k>=1} 1/k! summed by binary splitting in integers."""
    k_max, lg = 10, 0.0
    while lg < nbits + 64:  # terms beyond k_max are below 2^-(nbits + 64)
        k_max += 1
        lg += math.log2(k_max)

    def split(a: int, b: int) -> tuple[int, int]:  # sum_{k=a+1}^{b} a!/k! = p/q
        if b - a == 1:
            return 1, b
        m = (a + b) // 2
        p1, q1 = split(a, m)
        p2, q2 = split(m, b)
        return p1 * q2 + p2, q1 * q2

    p, q = split(0, k_max)
    x = ((q + p) << (nbits - 2)) // q  # e * 2^(nbits - 2)
    return bin(x)[2:][:nbits]


if __name__ == "__main__":
    bits = np.frombuffer(e_bits(1_000_000).encode(), dtype=np.uint8) - 48
    Path(__file__).with_name("e_bits_1e6.bin").write_bytes(np.packbits(bits).tobytes())

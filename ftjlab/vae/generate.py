"""Image generation in three modes (DESIGN.md section 8, issue 6).

* **software** - float weights, numpy Gaussian latents: the baseline.
* **measured-map** - every load of the mapped decoder is programmed once and its conductance
  map measured; decoding uses the effective weights ``scale * (G+ - G-)`` of the measured
  maps, the same input quantisation as the array (DAC bits) and the device's read-noise
  model (thermal + shot + instrument noise of the bit-serial readings), drawn per image.
* **in-array** - every tile's VMM runs on the (simulated) array with ``vmm_batch``: inputs
  quantised to unsigned ``bits``-bit integers on the word lines (signed latents as a
  positive and a negative pass), bit-line currents of the G+ and G- column groups
  subtracted, scaled, partial sums and biases added digitally. When the decoder needs more
  than one load, loads are reprogrammed in turn (layer by layer, each load once per layer).

Latents for the hardware modes come from a latent source (:mod:`ftjlab.vae.latents`), RTN by
default. Activations are computed digitally between layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.simulators.params import ArrayParams
from ftjlab.vae.mapping import (
    VMM_BIAS_V,
    DecoderMapping,
    Programmer,
    ProgramReport,
    Tile,
    program_load,
)
from ftjlab.vae.model import VAEModel

BOLTZMANN = 1.380649e-23
ELEMENTARY_CHARGE = 1.602176634e-19
MODES = ("software", "measured-map", "in-array")


def quantise_inputs(x: np.ndarray, x_max: float, bits: int) -> tuple[np.ndarray, float]:
    """Unsigned ``bits``-bit integers for non-negative inputs clipped at ``x_max``; returns
    (integers, step) with ``x ~ integers * step``."""
    top = (1 << bits) - 1
    step = x_max / top
    return np.rint(np.clip(x, 0.0, x_max) / step).astype(np.int64), step


def _split_signed(x: np.ndarray, x_max: float, bits: int, signed: bool):
    """Integer passes for a layer input: [x+] or, for signed inputs, [x+, x-] stacked."""
    if signed:
        both = np.concatenate([np.maximum(x, 0.0), np.maximum(-x, 0.0)])
        return quantise_inputs(both, x_max, bits)
    return quantise_inputs(x, x_max, bits)


def _bit_power_sum(x_int: np.ndarray, bits: int) -> np.ndarray:
    """sum_b 4**b * bit_b(x): the weight of each input in the variance of the shift-and-add."""
    out = np.zeros(x_int.shape, dtype=np.float64)
    for b in range(bits):
        out += (4.0**b) * ((x_int >> b) & 1)
    return out


@dataclass
class _LayerMaps:
    """A layer's effective weights and noise weights assembled from its tiles."""

    weight: np.ndarray  # (in, out), weight units
    noise_g: np.ndarray  # (in, out): sum over the tile's G+ and G- of scale^2 * G (S * w^2/S^2)
    noise_inst: np.ndarray  # (out,): sum over tiles of 2 * scale^2 (two bit lines per output)


@dataclass
class ArrayDecoder:
    """A VAE decoder mapped onto an FTJ array.

    Parameters
    ----------
    model: the trained VAE (float weights and biases).
    mapping: its tiles and loads (:func:`ftjlab.vae.mapping.map_decoder`).
    params: the device parameters (read-noise model, non-linearity) for measured-map decoding.
    programmer: ``programmer(targets_s) -> ProgramReport`` for the array (simulated or bench).
    bits: input DAC resolution (bit-serial readings per VMM).
    read_v, aperture_s: VMM read bias and the aperture of each bit-serial reading.
    z_max: latents are clipped to [-z_max, z_max] before quantisation.
    """

    model: VAEModel
    mapping: DecoderMapping
    params: ArrayParams
    programmer: Programmer | None = None
    bits: int = 8
    read_v: float = VMM_BIAS_V
    aperture_s: float = 1e-5
    z_max: float = 4.0
    compensate: bool = True
    reports: dict[int, ProgramReport] = field(default_factory=dict)
    resident_load: int | None = None

    def __post_init__(self) -> None:
        if len(self.mapping.layer_shapes) != len(self.model.layers):
            raise BadInput("mapping and model have different numbers of layers")
        pairs = zip(self.mapping.layer_shapes, self.model.layers, strict=True)
        for k, (shape, layer) in enumerate(pairs):
            if tuple(shape) != layer.weight.shape:
                raise BadInput(f"layer {k}: mapping {shape} != model {layer.weight.shape}")
        if not 1 <= self.bits <= 16:
            raise BadInput(f"bits: must be 1..16, got {self.bits}")
        self._maps: list[_LayerMaps] | None = None

    # ------------------------------------------------------------------ programming
    def input_range(self, layer: int) -> tuple[float, bool]:
        """(x_max, signed) of a layer's input quantisation."""
        return (self.z_max, True) if layer == 0 else (self.model.input_max(layer), False)

    def program(self, load: int) -> ProgramReport:
        """Program one load (with partner compensation) and keep its measured map."""
        if self.programmer is None:
            raise BadInput("no programmer: this decoder cannot program the array")
        report = program_load(self.mapping, load, self.programmer, self.compensate)
        self.reports[load] = report
        self.resident_load = load
        self._maps = None
        return report

    def program_all(self) -> list[ProgramReport]:
        """Program every load once (measured-map mode); returns the reports in load order."""
        return [self.program(k) for k in range(self.mapping.n_loads)]

    def measured_maps(self) -> list[np.ndarray]:
        missing = [k for k in range(self.mapping.n_loads) if k not in self.reports]
        if missing:
            raise BadInput(f"loads {missing} have not been programmed and measured yet")
        return [self.reports[k].measured_s for k in range(self.mapping.n_loads)]

    def _layer_maps(self) -> list[_LayerMaps]:
        if self._maps is None:
            maps = self.measured_maps()
            out = []
            for k, shape in enumerate(self.mapping.layer_shapes):
                w = np.zeros(shape)
                ng = np.zeros(shape)
                ni = np.zeros(shape[1])
                for t in self.mapping.tiles_of(layer=k):
                    g = np.nan_to_num(maps[t.load][np.ix_(t.rows, t.cols)])
                    w[t.in_slice, t.out_slice] = t.effective_weight(g)
                    ng[t.in_slice, t.out_slice] = t.scale**2 * (
                        np.abs(g[:, : t.n_out]) + np.abs(g[:, t.n_out :])
                    )
                    ni[t.out_slice] += 2 * t.scale**2
                out.append(_LayerMaps(w, ng, ni))
            self._maps = out
        return self._maps

    def effective_weights(self) -> list[np.ndarray]:
        """Each layer's weights as the measured maps hold them."""
        return [m.weight for m in self._layer_maps()]

    # ------------------------------------------------------------------ decoding
    def _check_latents(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.model.latent_dim:
            raise BadInput(f"latents must have shape (n, {self.model.latent_dim}), got {z.shape}")
        if not np.all(np.isfinite(z)):
            raise BadInput("latents contain NaN or inf")
        return z

    def _measured_layer(
        self, k: int, x: np.ndarray, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Pre-activation (without bias) of layer ``k`` from the measured maps; read noise
        when ``rng`` is given."""
        n = len(x)
        p = self.params
        maps = self._layer_maps()[k]
        x_max, signed = self.input_range(k)
        xq, step = _split_signed(x, x_max, self.bits, signed)
        y = xq @ maps.weight
        pre = (y[:n] - y[n:] if signed else y) * step
        if rng is not None:
            f = float(self.read_v * (1 + (self.read_v / p.conductance.nonlinearity_v) ** 2))
            rn = p.read_noise
            k_g = 4 * BOLTZMANN * rn.temperature_k + (
                2 * ELEMENTARY_CHARGE * f if rn.shot_noise else 0
            )
            k_inst = rn.instrument_noise_a_per_rthz**2 * float(np.sum(4.0 ** np.arange(self.bits)))
            # variance of the shift-and-added bit-line currents, in weight units
            x4 = _bit_power_sum(xq, self.bits)
            var = (k_g * (x4 @ maps.noise_g) + k_inst * maps.noise_inst) / (2 * self.aperture_s)
            if signed:
                var = var[:n] + var[n:]
            pre += (step / f) * np.sqrt(var) * rng.standard_normal(pre.shape)
        return pre

    def decode_measured(
        self, z: np.ndarray, rng: np.random.Generator | None = None, read_noise: bool = True
    ) -> np.ndarray:
        """Measured-map mode: images (n, *image_shape) from latents ``z``."""
        z = self._check_latents(z)
        if read_noise and rng is None:
            raise BadInput("measured-map decoding with read noise needs a random generator")
        x = z
        for k, layer in enumerate(self.model.layers):
            x = layer.apply(self._measured_layer(k, x, rng if read_noise else None) + layer.bias)
        return x.reshape(len(z), *self.model.image_shape).astype(np.float32)

    def _tile_groups(self, layer: int) -> list[tuple[int, int, list[Tile]]]:
        """Tiles of a layer grouped by (load, first word line, inputs): one VMM per group."""
        groups: dict[tuple[int, int, int, int], list[Tile]] = {}
        for t in self.mapping.tiles_of(layer=layer):
            key = (t.load, t.row0, t.in_slice.start, t.in_slice.stop)
            groups.setdefault(key, []).append(t)
        return [(key[0], key[1], tiles) for key, tiles in sorted(groups.items())]

    def decode_in_array(self, z: np.ndarray, array) -> np.ndarray:
        """In-array mode: every tile's VMM on ``array`` (bit-serial ``vmm_batch``); loads are
        (re)programmed when needed. Images (n, *image_shape)."""
        return self.decode_hybrid(z, array, range(len(self.model.layers)))

    def _layer_in_array(self, k: int, xq: np.ndarray, step: float, signed: bool, n: int,
                        array) -> np.ndarray:
        layer = self.model.layers[k]
        f = float(array.current_factor(self.read_v))
        pre = np.zeros((n, layer.weight.shape[1]))
        for load, row0, tiles in self._tile_groups(k):
            if self.resident_load != load:
                self.program(load)
            t0 = tiles[0]
            drive = np.zeros((len(xq), array.rows), dtype=np.int64)
            drive[:, row0 : row0 + t0.n_in] = xq[:, t0.in_slice]
            current = array.vmm_batch(drive, self.bits, self.read_v, self.aperture_s)
            for t in tiles:
                y = current[:, t.plus_cols] - current[:, t.minus_cols]
                if signed:
                    y = y[:n] - y[n:]
                pre[:, t.out_slice] += (t.scale * step / f) * t.sign * y
        return pre

    def decode_hybrid(
        self, z: np.ndarray, array, in_array: Sequence[int],
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Layers ``in_array`` as VMMs on ``array`` (loads programmed when not resident), the
        others from the measured maps (with read noise when ``rng`` is given)."""
        z = self._check_latents(z)
        n = len(z)
        if tuple(array.shape) != tuple(self.mapping.array_shape):
            raise BadInput(f"array is {array.shape}, the mapping was made for "
                           f"{self.mapping.array_shape}")
        in_array = set(in_array)
        x = z
        for k, layer in enumerate(self.model.layers):
            if k in in_array:
                x_max, signed = self.input_range(k)
                xq, step = _split_signed(x, x_max, self.bits, signed)
                pre = self._layer_in_array(k, xq, step, signed, n, array)
            else:
                pre = self._measured_layer(k, x, rng)
            x = layer.apply(pre + layer.bias)
        return x.reshape(n, *self.model.image_shape).astype(np.float32)


def software_images(model: VAEModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """Software mode: float weights, numpy Gaussian latents."""
    return model.decode(rng.standard_normal((n, model.latent_dim)))

"""Multi-domain nucleation-limited switching (NLS) of FTJ cells, vectorised over cells.

Each cell has up to 32 domains (one bit each in a uint32 mask), each with an area fraction
and an activation voltage Va. A rectangular pulse of amplitude V and width t switches a
domain that points against the pulse with probability ``1 - exp(-(t / tau(V))**beta)``,
``tau(V) = tau0 * exp((Va_eff / |V|)**alpha)`` (Merz law, Deng et al. VLSI 2020). Positive
pulses switch toward ON (SET), negative toward OFF (RESET); the imprint shifts Va between them.
Partial switching, multi-level states, stochastic switching near the coercive bias and
cycle-to-cycle spread all follow from this.
"""

from __future__ import annotations

import numpy as np

from .fastrandom import standard_normal_f32
from .params import SwitchingModel

MAX_DOMAINS = 32


class DomainArray:
    """Domain state and per-domain parameters of ``n_cells`` cells.

    Memory per cell: 2 bytes of Va and 2 bytes of area per domain (float16) + a 4-byte mask.
    """

    def __init__(self, params: SwitchingModel, n_cells: int, rng: np.random.Generator) -> None:
        m = params.domains_per_cell
        if m > MAX_DOMAINS:
            raise ValueError(f"switching.domains_per_cell: at most {MAX_DOMAINS}, got {m}")
        self.params = params
        self.n_domains = m
        cell_va = params.activation_v_mean + params.activation_v_d2d_sigma * standard_normal_f32(
            rng, n_cells
        )
        va = cell_va[:, None] + params.activation_v_domain_sigma * standard_normal_f32(
            rng, n_cells * m
        ).reshape(n_cells, m)
        np.maximum(va, params.activation_v_min, out=va)
        self.va = va.astype(np.float16)
        area = np.exp(params.domain_area_log_sigma * standard_normal_f32(rng, n_cells * m))
        area = area.reshape(n_cells, m)
        area /= area.sum(axis=1, keepdims=True)
        self.area = area.astype(np.float16)
        self.up = np.zeros(n_cells, dtype=np.uint32)  # bit k set: domain k points ON
        self._bits = (np.uint32(1) << np.arange(m, dtype=np.uint32)).astype(np.uint32)

    @property
    def nbytes(self) -> int:
        return self.va.nbytes + self.area.nbytes + self.up.nbytes

    def up_matrix(self, cells: np.ndarray | slice) -> np.ndarray:
        """Domain orientation as a (cells, domains) bool matrix."""
        return (self.up[cells, None] & self._bits) != 0

    def switched_fraction(self, cells: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Area fraction of ON domains per cell (0..1), float64."""
        area = self.area[cells].astype(np.float32)
        on = np.einsum("ij,ij->i", self.up_matrix(cells), area, dtype=np.float64)
        # areas are stored as float16: normalise by their stored sum so a full cell is exactly 1
        return on / area.sum(axis=1, dtype=np.float64)

    def set_all(self, cells: np.ndarray | slice, on: np.ndarray | bool) -> None:
        """Force the domains of ``cells`` fully ON or OFF (initial states, stuck cells)."""
        full = (
            np.uint32((1 << self.n_domains) - 1) if self.n_domains < 32 else np.uint32(0xFFFFFFFF)
        )
        self.up[cells] = np.where(on, full, np.uint32(0))

    def randomise(self, cells: np.ndarray, rng: np.random.Generator) -> None:
        """Give ``cells`` random domain orientations (virgin multi-domain state)."""
        raw = rng.bit_generator.random_raw(cells.size).astype(np.uint64)
        mask = np.uint64((1 << self.n_domains) - 1)
        self.up[cells] = (raw & mask).astype(np.uint32)

    def switching_probability(
        self, cells: np.ndarray, volts: np.ndarray, width_s: float
    ) -> np.ndarray:
        """Probability (cells, domains) that each domain switches toward sign(V) in one pulse."""
        p = self.params
        v = np.asarray(volts, dtype=np.float64)[:, None]
        va = self.va[cells].astype(np.float64) - np.sign(v) * p.imprint_v
        with np.errstate(over="ignore", divide="ignore"):
            ratio = np.where(v != 0, np.maximum(va, 0.0) / np.abs(v), np.inf)
            log_tau = np.log(p.tau0_s) + ratio**p.alpha
            # (t / tau)^beta computed in logs: no overflow for huge tau
            x = np.exp(p.beta * (np.log(width_s) - log_tau))
        return -np.expm1(-x)

    def apply_pulse(
        self,
        cells: np.ndarray,
        volts: np.ndarray,
        width_s: float,
        rng: np.random.Generator,
        count: int = 1,
    ) -> np.ndarray:
        """Apply ``count`` identical rectangular pulses to ``cells`` (amplitudes ``volts``).

        Returns the change of switched fraction per cell (signed).
        """
        return self.apply_pulse_fractions(cells, volts, width_s, rng, count)[1]

    def apply_pulse_fractions(
        self,
        cells: np.ndarray,
        volts: np.ndarray,
        width_s: float,
        rng: np.random.Generator,
        count: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply_pulse`, returning ``(switched fraction after, change)`` per cell
        (the same numbers as :meth:`switched_fraction` after the pulse, without a second
        gather of the cells' domains)."""
        if cells.size == 0:
            return np.zeros(0), np.zeros(0)
        area = self.area[cells].astype(np.float32)
        norm = area.sum(axis=1, dtype=np.float64)
        up = self.up_matrix(cells)
        before = np.einsum("ij,ij->i", up, area, dtype=np.float64) / norm
        prob = self.switching_probability(cells, volts, width_s)
        if count > 1:
            prob = -np.expm1(count * np.log1p(-np.minimum(prob, 1.0 - 1e-16)))
        toward_on = (np.asarray(volts) > 0)[:, None]
        candidate = up != toward_on  # domains pointing against the pulse
        flips = candidate & (rng.random(prob.shape, dtype=np.float32) < prob)
        new_up = up ^ flips
        self.up[cells] = (new_up * self._bits).sum(axis=1, dtype=np.uint32)
        after = np.einsum("ij,ij->i", new_up, area, dtype=np.float64) / norm
        return after, after - before

    def bipolar_burst(
        self,
        cells: np.ndarray,
        v_high: float,
        width_high_s: float,
        v_low: float,
        width_low_s: float,
        count: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """``count`` cycles of a pulse at ``v_high`` (> 0) then one at ``v_low`` (< 0), in one
        exact step per domain; returns each cell's expected switched area (both directions)
        over the burst, for wear.

        A domain is a two-state chain over cycles: after a cycle it is ON with probability
        ``p_s (1 - p_r)`` from OFF and ``1 - p_r`` from ON (p_s, p_r: switching probabilities
        of one SET and one RESET pulse). Its final state is drawn from the exact N-step
        distribution; the expected numbers of switches are geometric sums (their relative
        spread, ~1/sqrt(N), does not matter for wear).
        """
        up0 = self.up_matrix(cells).astype(np.float64)
        p_s = self.switching_probability(cells, np.full(cells.size, v_high), width_high_s)
        p_r = self.switching_probability(cells, np.full(cells.size, v_low), width_low_s)
        a, b = p_s * (1 - p_r), 1 - p_r
        lam = b - a
        gap = 1.0 - lam  # = p_r + p_s (1 - p_r) >= 0
        moving = gap > 1e-15
        pi1 = np.where(moving, a / np.where(moving, gap, 1.0), up0)
        decay = lam**count
        q_final = pi1 + (up0 - pi1) * decay
        # sum_{k<N} lam^k, with its limit N where the chain does not move
        geo = np.where(moving, (1 - decay) / np.where(moving, gap, 1.0), float(count))
        ups = p_s * (count * (1 - pi1) - (up0 - pi1) * geo)
        downs = p_r * (count * (pi1 + (1 - pi1) * p_s) + (up0 - pi1) * (1 - p_s) * geo)
        new_up = rng.random(q_final.shape) < q_final
        self.up[cells] = (new_up * self._bits).sum(axis=1, dtype=np.uint32)
        area = self.area[cells].astype(np.float64)
        area /= area.sum(axis=1, keepdims=True)
        return np.einsum("ij,ij->i", np.clip(ups + downs, 0, None), area)

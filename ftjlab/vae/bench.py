"""The VAE decoder and latents on a bench, through :class:`~ftjlab.controller.ArrayController`
(drivers, wiring, safety guard): decoder mapping onto the bench array, programming loads by
write-verify with their maps measured, a programmer and a VMM with the interfaces
:class:`~ftjlab.vae.generate.ArrayDecoder` expects, measured-map files, and
:func:`build_engine`, which assembles the :class:`~ftjlab.vae.engine.GenerationEngine` the GUI,
the ``vae-generate`` procedure, the demo, ``vae-tune`` and the stability study use.

Units: the controller works in chord conductance ``I / V`` at the read bias (``f(V) = 1 +
(V / V_nl)^2`` above the low-field conductance); the mapping's levels are low-field device
conductances. Targets are sent as ``G * f(read_v)`` and measured maps are divided by
``f(read_v)`` before they become weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.store import read_dataset
from ftjlab.vae.engine import (
    BenchRTNLatents,
    GaussianLatents,
    GenerationEngine,
    InArrayDecoder,
    LiveSettings,
    MeasuredMapDecoder,
    ReplayLatents,
    SamplingSettings,
    SoftwareDecoder,
    array_decoder_from_maps,
)
from ftjlab.vae.mapping import (
    ConductanceLevels,
    DecoderMapping,
    ProgramReport,
    map_decoder,
    repair_targets,
)
from ftjlab.vae.model import VAEModel, load_vae

READ_BIAS_V = 0.2
TILE_COLS = 32
VMM_NPLC = 0.01  # integration of one bit-serial VMM reading
# integration of the measured maps: as good as 1 NPLC on the simulated bench (map against
# the array: p95 0.02-0.05 level steps either way) at a tenth of the aperture
MAP_NPLC = 0.1
WRITE_NPLC = 0.1  # integration of the verify readings
#: readings of a map per on-instrument call (~0.75 s of instrument time at MAP_NPLC: a stop
#: request waits for at most one call)
MAP_READINGS_PER_CALL = 160
LATENT_SOURCES = ("bench-rtn", "replay", "software")
DECODER_MODES = ("measured-map", "in-array", "software")


def chord_factor(controller, read_v: float) -> float:
    """Chord conductance at ``read_v`` over the low-field conductance: ``1 + (V / V_nl)^2``."""
    v_nl = controller.session.config.array.conductance.nonlinearity_v
    return 1.0 + (read_v / v_nl) ** 2


def decoder_mapping(
    controller, n_levels: int, model: VAEModel | None = None
) -> tuple[VAEModel, DecoderMapping]:
    """The VAE (default: the shipped one) and its mapping onto the controller's array (tiles
    of at most 32 bit lines, loads the size of the array)."""
    model = model or load_vae()
    params = controller.session.config.array
    levels = ConductanceLevels.from_model(params.conductance, n_levels=n_levels)
    rows, cols = controller.rows, controller.cols
    mapping = map_decoder(
        [layer.weight for layer in model.layers],
        (rows, cols),
        levels,
        (rows, min(cols, TILE_COLS)),
    )
    return model, mapping


def _map_calls(cells: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """The cells of mask ``cells`` as on-instrument reads: runs of word lines with the same
    bit lines, at most :data:`MAP_READINGS_PER_CALL` readings each (word lines, bit lines)."""
    calls: list[tuple[list[int], list[int]]] = []
    for row in np.flatnonzero(cells.any(axis=1)):
        cols = [int(k) for k in np.flatnonzero(cells[row])]
        if calls and calls[-1][1] == cols and (
                (len(calls[-1][0]) + 1) * len(cols) <= MAP_READINGS_PER_CALL):
            calls[-1][0].append(int(row))
        else:
            calls.append(([int(row)], cols))
    return calls


def _write_and_measure(
    c, targets: np.ndarray, tolerance_rel: float, read_v: float,
    on_cell: Callable | None, should_stop: Callable[[], bool], map_nplc: float = MAP_NPLC,
    start_s: np.ndarray | None = None,
) -> tuple[ProgramReport, np.ndarray]:
    """Write-verify ``targets`` (device units, NaN: leave alone; ``start_s``: the cells'
    last measured map, device units, NaN where unknown) and measure their map (the
    programmed cells only, row by row, at ``map_nplc``)."""
    f = chord_factor(c, read_v)
    g_range = c.conductance_range(read_v)
    # a map at the verify settings is where write-verify starts from
    start = start_s * f if start_s is not None and map_nplc == WRITE_NPLC else None
    report = c.write_verify(
        targets * f, tolerance_rel, g_range, read_v, WRITE_NPLC, 1e-6,
        on_cell=on_cell, should_stop=should_stop, start_s=start,
    )
    finite = np.isfinite(targets)
    measured = np.full(targets.shape, np.nan)
    for rows, cols in _map_calls(finite):  # only the cells just programmed
        if should_stop():
            break
        chord = c.measure_routes([[r] for r in rows], cols, read_v, map_nplc) / read_v
        measured[np.ix_(rows, cols)] = chord / f
    tol = tolerance_rel * (g_range[1] - g_range[0]) / f
    ok = ~finite | (np.abs(measured - targets) <= tol)
    return ProgramReport(targets, measured, ok, report.pulses, tol), report.final_s


def program_load_on_bench(
    controller,
    mapping: DecoderMapping,
    load: int,
    tolerance_rel: float,
    read_v: float,
    max_rows: int = 0,
    on_cell: Callable | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    compensate: bool = True,
    start_s: np.ndarray | None = None,
) -> tuple[ProgramReport, np.ndarray]:
    """Program one load through the controller's write-verify and measure its map
    (``max_rows``: only the first word lines of the load, 0 = all). With ``compensate``
    (whole loads only), a second pass retargets the partners of the cells that missed
    (stuck cells; :func:`ftjlab.vae.mapping.repair_targets`, which may flip a pair's
    polarity in ``mapping`` where that clearly helps: keep :func:`pair_signs` with the
    maps); the second map reads only the cells the second pass redid. ``start_s``: the
    array's last measured map (device units, NaN where unknown, e.g. the previous load's),
    where write-verify starts from; the second pass starts from the first one's map.

    Returns the report in device units (targets, measured map with NaN outside the load,
    pulses) and the write-verify's final values (chord units at ``read_v``)."""
    targets = mapping.load_targets(load)
    if max_rows:
        used = np.flatnonzero(np.isfinite(targets).any(axis=1))
        targets[used[max_rows:]] = np.nan
    report, final = _write_and_measure(controller, targets, tolerance_rel, read_v, on_cell,
                                       should_stop, start_s=start_s)
    if not compensate or max_rows or should_stop():
        return report, final
    second = repair_targets(mapping, load, report)
    redo = np.isfinite(second)
    if not redo.any():
        return report, final
    fix, fix_final = _write_and_measure(controller, second, tolerance_rel, read_v, on_cell,
                                        should_stop, start_s=report.measured_s)
    measured = np.where(redo, fix.measured_s, report.measured_s)
    targets = np.where(redo, second, mapping.load_targets(load))  # with the new polarities
    near = np.abs(measured - targets) <= report.tolerance_s
    merged = ProgramReport(
        targets, measured, np.where(redo, fix.ok, report.ok & (near | ~np.isfinite(targets))),
        report.pulses + fix.pulses, report.tolerance_s,
    )
    return merged, np.where(redo, fix_final, final)


def pair_signs(mapping: DecoderMapping, load: int) -> np.ndarray:
    """(rows, cols) int8: the polarity (+1 / -1) of the pair each cell of the load belongs
    to (0 outside the load); :func:`program_load_on_bench` may flip pairs with stuck cells."""
    out = np.zeros(mapping.array_shape, dtype=np.int8)
    for t in mapping.tiles_of(load=load):
        out[np.ix_(t.rows, t.plus_cols)] = t.sign[None, :]
        out[np.ix_(t.rows, t.minus_cols)] = t.sign[None, :]
    return out


def set_pair_signs(mapping: DecoderMapping, signs: dict[int, np.ndarray]) -> None:
    """Give ``mapping``'s tiles the pair polarities recorded with the maps (by load)."""
    for load, sign_map in signs.items():
        sign_map = np.asarray(sign_map)
        for t in mapping.tiles_of(load=int(load)):
            s = sign_map[t.rows[0], t.plus_cols]
            if s.shape == t.sign.shape and np.all(np.abs(s) == 1):
                t.sign = s.astype(np.int64)


def load_pair_signs(paths: str) -> dict[int, np.ndarray]:
    """Pair polarities by load from ``vae-program`` run files (``pair_signs``; files made
    before it was recorded have none: every pair +1)."""
    out: dict[int, np.ndarray] = {}
    for text in (p.strip() for p in str(paths or "").split(",")):
        if not text:
            continue
        try:
            signs = read_dataset(text, "pair_signs")
        except Exception:
            continue
        loads = read_dataset(text, "loads")
        for k, m in zip(np.atleast_1d(loads), signs, strict=True):
            out[int(k)] = np.asarray(m)
    return out


def bench_programmer(
    controller,
    tolerance_rel: float = 0.02,
    read_v: float = READ_BIAS_V,
    should_stop: Callable[[], bool] = lambda: False,
) -> Callable[[np.ndarray], ProgramReport]:
    """A programmer for :mod:`ftjlab.vae.mapping` / :class:`~ftjlab.vae.generate.ArrayDecoder`
    on the bench: ``programmer(targets_s) -> ProgramReport`` with targets and the measured map
    in low-field device units (sent to the controller's write-verify as chord conductances at
    ``read_v``; the map of the programmed cells measured with ``read_map``)."""
    c = controller

    def program(targets_s: np.ndarray) -> ProgramReport:
        targets = np.asarray(targets_s, dtype=np.float64)
        f = chord_factor(c, read_v)
        g_range = c.conductance_range(read_v)
        report = c.write_verify(
            targets * f, tolerance_rel, g_range, read_v, 0.1, 1e-6, should_stop=should_stop
        )
        finite = np.isfinite(targets)
        measured = np.full(targets.shape, np.nan)
        rows = [int(r) for r in np.flatnonzero(finite.any(axis=1))]
        cols = [int(k) for k in np.flatnonzero(finite.any(axis=0))]
        if rows:
            measured[np.ix_(rows, cols)] = c.read_map(read_v, MAP_NPLC, rows=rows, cols=cols) / f
        measured[~finite] = np.nan
        tol = tolerance_rel * (g_range[1] - g_range[0]) / f
        ok = ~finite | (np.abs(measured - targets) <= tol)
        return ProgramReport(targets, measured, ok, report.pulses, tol)

    return program


class BenchVMM:
    """The bench's bit-serial VMM (``ArrayController.vmm``) with the interface
    :meth:`~ftjlab.vae.generate.ArrayDecoder.decode_in_array` expects of an array:
    ``vmm_batch``, ``current_factor``, ``rows``, ``cols``, ``shape``."""

    def __init__(self, controller) -> None:
        self.controller = controller
        self.rows, self.cols = controller.rows, controller.cols
        self.shape = (self.rows, self.cols)

    def current_factor(self, volts: float) -> float:
        """Read current per siemens of low-field conductance: ``V (1 + (V / V_nl)^2)``."""
        return float(volts) * chord_factor(self.controller, float(volts))

    def vmm_batch(self, x: np.ndarray, bits: int, volts: float, aperture_s: float) -> np.ndarray:
        """One bench VMM per row of ``x`` ((n, rows) unsigned integers); (n, cols) in A."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.rows:
            raise BadInput(f"VMM inputs must have shape (n, {self.rows}), got {x.shape}")
        nplc = aperture_s * self.controller.linefreq
        return np.array([self.controller.vmm(row, bits, volts, nplc) for row in x])


def write_map_file(
    out_dir: str | Path,
    maps: dict[int, np.ndarray],
    bench: dict | None = None,
    source: str = "",
) -> Path:
    """A file in ``vae-program``'s layout (datasets ``loads`` and ``measured_maps``, S) from
    maps measured elsewhere (e.g. programmed with the device model); ``source`` says how."""
    from ftjlab.store import RunWriter

    loads = sorted(maps)
    writer = RunWriter.create(out_dir, "vae-program", {"source": source}, bench or {}, {})
    writer.finish(
        "completed",
        arrays={
            "loads": (np.array(loads, dtype=np.int64), "1"),
            "measured_maps": (np.array([maps[k] for k in loads]), "S"),
        },
        attrs={"maps_source": source},
    )
    return writer.path


def load_maps(paths: str) -> dict[int, np.ndarray]:
    """Measured maps by load from ``vae-program`` run files (comma-separated paths; a later
    file overrides an earlier one for the same load)."""
    out: dict[int, np.ndarray] = {}
    for text in (p.strip() for p in paths.split(",")):
        if not text:
            continue
        if not Path(text).expanduser().exists():
            raise BadInput(f"maps_from: {text!r} does not exist")
        loads = read_dataset(text, "loads")
        maps = read_dataset(text, "measured_maps")
        for k, m in zip(np.atleast_1d(loads), maps, strict=True):
            out[int(k)] = np.asarray(m, dtype=np.float64)
    return out


def program_all_loads(
    controller,
    mapping: DecoderMapping,
    tolerance_rel: float = 0.02,
    read_v: float = READ_BIAS_V,
    on_load: Callable[[int, ProgramReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[int, ProgramReport]:
    """Program every load of ``mapping`` through the bench, one after the other, measuring
    each load's map after it is programmed (write-verify of a load starts from the map
    before it). Returns the reports by load (device units)."""
    out: dict[int, ProgramReport] = {}
    last = None
    for load in range(mapping.n_loads):
        if should_stop():
            break
        report, _ = program_load_on_bench(
            controller, mapping, load, tolerance_rel, read_v, should_stop=should_stop,
            start_s=last,
        )
        last = report.measured_s
        out[load] = report
        if on_load is not None:
            on_load(load, report)
    return out


def layers_fitting_one_load(mapping: DecoderMapping) -> list[int]:
    """Layers whose tiles all sit in one load (an in-array VMM without reprogramming)."""
    out = []
    for k in range(len(mapping.layer_shapes)):
        if len({t.load for t in mapping.tiles_of(layer=k)}) == 1:
            out.append(k)
    return out


def build_engine(
    controller,
    *,
    latent_source: str = "bench-rtn",
    decoder_mode: str = "measured-map",
    maps: dict[int, np.ndarray] | None = None,
    settings: LiveSettings | SamplingSettings | None = None,
    replay_path: str | None = None,
    model: VAEModel | None = None,
    n_levels: int = 32,
    read_v: float = READ_BIAS_V,
    in_array_layers: Sequence[int] | None = None,
    tolerance_rel: float = 0.02,
    max_cells_per_latent: int = 16,
    rtn_first_cell: tuple[int, int] = (0, 0),
    seed: int = 0,
    batch: int = 64,
    vmm_nplc: float = VMM_NPLC,
    mapping: DecoderMapping | None = None,
    signs: dict[int, np.ndarray] | None = None,
) -> GenerationEngine:
    """A generation engine on the controller's bench.

    ``latent_source``: "bench-rtn" (RTN through the SMU buffers), "replay" (the latents of
    the run file ``replay_path``) or "software". ``decoder_mode``: "measured-map" (needs
    ``maps``, device units by load, e.g. :func:`load_maps` of ``vae-program`` runs),
    "in-array" (``in_array_layers`` as bench VMMs, default: the layers that fit one load;
    the other layers from ``maps``) or "software". The sampling bias is checked against the
    bench's sample limit before every batch (and again by the driver's guard). ``mapping``:
    the one the maps were programmed with (it holds the pair polarities the repair pass
    chose), or ``signs`` (:func:`load_pair_signs` of the maps' files). ``vmm_nplc``:
    the SMU integration of one bit-serial VMM reading (and the read-noise model's aperture).
    """
    if latent_source not in LATENT_SOURCES:
        raise BadInput(f"latent_source: one of {list(LATENT_SOURCES)}, got {latent_source!r}")
    if decoder_mode not in DECODER_MODES:
        raise BadInput(f"decoder_mode: one of {list(DECODER_MODES)}, got {decoder_mode!r}")
    if mapping is None:  # else: the mapping the maps were programmed with (pair polarities)
        model, mapping = decoder_mapping(controller, n_levels, model)
    elif model is None:
        raise BadInput("build_engine: a mapping needs its model")
    if signs:
        set_pair_signs(mapping, signs)
    session = controller.session
    dim = model.latent_dim
    if latent_source == "bench-rtn":
        source = BenchRTNLatents(controller, dim, max_cells_per_latent, first_cell=rtn_first_cell)
    elif latent_source == "replay":
        if not replay_path:
            raise BadInput("replay_path: a run file with a latents stream is needed for replay")
        source = ReplayLatents(replay_path, dim)
    else:
        source = GaussianLatents(dim, seed)
    params = session.config.array
    if decoder_mode == "software":
        decoder = SoftwareDecoder(model)
    else:
        # the aperture of one bit-serial VMM reading on the bench's SMU (also the read-noise
        # model of the measured-map decoder, so both modes see the same readings)
        aperture_s = vmm_nplc / controller.linefreq
        array_decoder = array_decoder_from_maps(model, mapping, maps or {}, params, read_v,
                                                aperture_s=aperture_s)
        if decoder_mode == "measured-map":
            decoder = MeasuredMapDecoder(array_decoder, seed + 1)
        else:
            layers = (
                list(in_array_layers)
                if in_array_layers is not None
                else layers_fitting_one_load(mapping)
            )
            if not layers:
                raise BadInput(
                    f"in-array: no decoder layer fits the {controller.rows} x "
                    f"{controller.cols} array in one load; name the layers to run in-array "
                    "(in_array_layers; their loads are reprogrammed every batch)"
                )
            array_decoder.programmer = bench_programmer(controller, tolerance_rel, read_v)
            decoder = InArrayDecoder(array_decoder, BenchVMM(controller), layers, seed + 1)
    limits = session.limits

    def check(s: SamplingSettings) -> None:
        if latent_source == "bench-rtn":
            limits.check_voltage("sample", s.bias_v)

    return GenerationEngine(source, decoder, settings, session, batch, check)

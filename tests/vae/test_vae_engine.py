"""The generation engine: settings read per batch, replayed latents, bench RTN latents through
the instruments (with the bench's limits checked first), and the shipped decoder's quality
against the previous one."""

from __future__ import annotations

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.vae.engine import (
    GaussianLatents,
    GenerationEngine,
    LiveSettings,
    ReplayLatents,
    SamplingSettings,
    SoftwareDecoder,
)


class _Recorder:
    """A latent source that records the settings each batch was asked with."""

    kind = "test"

    def __init__(self) -> None:
        self.asked: list[SamplingSettings] = []

    def prepare(self) -> None:
        pass

    def sample(self, n, settings):
        self.asked.append(settings)
        return np.full((n, 16), settings.bias_v)

    def describe(self):
        return {}


def test_settings_changes_apply_from_the_next_batch(vae):
    live = LiveSettings(SamplingSettings(0.8, 2e-3))
    source = _Recorder()
    engine = GenerationEngine(source, SoftwareDecoder(vae), live, batch=10)
    seen = []
    for b in engine.batches(40):
        seen.append(b.settings.bias_v)
        if b.index == 1:
            live.set(bias_v=0.6, interval_s=5e-3)
    assert seen == [0.8, 0.8, 0.6, 0.6]
    assert [s.interval_s for s in source.asked] == [2e-3, 2e-3, 5e-3, 5e-3]
    rows = np.concatenate([b.settings_rows() for b in engine.batches(20)])
    assert rows.shape == (20, 6) and np.all(rows[:, 0] == 0.6) and np.all(rows[:, 2] == 2.5e-3)
    with pytest.raises(BadInput, match="interval_s"):
        live.set(interval_s=-1.0)
    with pytest.raises(BadInput, match="aperture_s"):
        SamplingSettings(0.8, 1e-3, aperture_s=2e-3)


def test_replay_gives_the_recorded_latents_in_order(tmp_path, vae):
    from ftjlab.store import RunWriter, StreamSpec

    z = np.random.default_rng(3).standard_normal((25, 16))
    writer = RunWriter.create(tmp_path, "vae-generation", {}, {},
                              {"latents": StreamSpec(np.float64, "1", (16,))})
    writer.append("latents", z)
    writer.finish("completed")
    source = ReplayLatents(writer.path, 16)
    out = GenerationEngine(source, SoftwareDecoder(vae), batch=10).run(30)
    np.testing.assert_array_equal(out["latents"], np.concatenate([z, z[:5]]))
    np.testing.assert_allclose(out["images"][:25], vae.decode(z), atol=1e-5)
    with pytest.raises(BadInput, match="need"):
        ReplayLatents(writer.path, 8)


def test_bench_rtn_latents_through_the_instruments_and_the_limits():
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import build_engine

    with BenchSession.open(seed=7) as session:
        c = ArrayController(session)
        sent: list[str] = []
        for name, inst in session.instruments.items():
            from ftjlab.instruments.safety import raw_adapter

            adapter = raw_adapter(inst.adapter)
            inner = adapter._write

            def write(command, _inner=inner, _name=name, **kw):
                sent.append(f"{_name}: {command}")
                return _inner(command, **kw)

            adapter._write = write
        engine = build_engine(c, latent_source="bench-rtn", decoder_mode="software",
                              settings=SamplingSettings(0.8, 2e-3, None, 2), batch=100,
                              max_cells_per_latent=2)
        out = engine.run(100)
        z = out["latents"]
        assert z.shape == (100, 16) and np.allclose(z.std(axis=0), 1.0, atol=1e-6)
        # 32 cells x 100 readings 2 ms apart: the instrument time is the SMU's, not numpy's
        assert out["instrument_s"] >= 32 * 100 * 2e-3
        assert np.all(out["settings"][:, 5] > 0)
        assert any("smua.source.levelv = 0.8" in m for m in sent)
        # a bias above the bench's sample limit is refused before anything is sent
        limit = float(session.limits.max_sample_voltage_v)
        engine.settings.set(bias_v=limit + 0.1)
        n_sent = len(sent)
        with pytest.raises(Exception, match="sample"):
            engine.run(10)
        assert not any(f"levelv = {limit + 0.1:g}" in m for m in sent[n_sent:])
        c.safe_state()


def test_new_decoder_against_the_previous_one(vae, evaluator):
    """Software generations, n = 3,000: FCD at most half the previous decoder's, confident
    and class-balanced digits."""
    from importlib import resources

    from ftjlab.vae.model import load_vae

    ref = resources.files("ftjlab.data.models").joinpath("vae_mnist_v1.npz")
    with resources.as_file(ref) as path:
        old = load_vae(path)
    z = GaussianLatents(16, seed=5).sample(3000, SamplingSettings())
    new_m = evaluator.evaluate(vae.decode(z), precision_recall=False)
    old_m = evaluator.evaluate(old.decode(z), precision_recall=False)
    assert new_m.fcd <= 0.5 * old_m.fcd, (new_m.fcd, old_m.fcd)
    assert new_m.confidence >= 0.9
    assert new_m.classes_present == 10 and new_m.class_entropy >= 0.95 * np.log(10)


def test_pair_polarities_travel_with_the_maps():
    """A pair the repair pass flipped decodes right from a fresh mapping once the recorded
    polarities are applied (and wrong without them)."""
    from ftjlab.simulators.params import ArrayParams

    from ftjlab.vae.bench import pair_signs, set_pair_signs
    from ftjlab.vae.mapping import ConductanceLevels, map_decoder

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((4, 6)), rng.standard_normal((6, 3))]
    levels = ConductanceLevels.from_model(ArrayParams().conductance, 32)
    programmed = map_decoder(weights, (16, 16), levels)
    tile = programmed.tiles_of(layer=0)[0]
    tile.sign[2] = -1  # the repair pass flipped pair 2: its cells hold the swapped levels
    measured = programmed.load_targets(0)
    np.testing.assert_array_equal(  # the flipped pair's G+ column holds what G- held
        measured[tile.rows, tile.plus_cols[2]],
        map_decoder(weights, (16, 16), levels).load_targets(0)[tile.rows, tile.minus_cols[2]])
    want = programmed.effective_weights([measured])[0]
    np.testing.assert_allclose(want, programmed.quantised_weights()[0], rtol=1e-9)
    fresh = map_decoder(weights, (16, 16), levels)
    assert not np.allclose(fresh.effective_weights([measured])[0], want)
    set_pair_signs(fresh, {0: pair_signs(programmed, 0)})
    np.testing.assert_allclose(fresh.effective_weights([measured])[0], want, rtol=1e-12)

"""How many conductance levels the demo's decoder needs: FCD of measured-map generation with
maps equal to the mapping's targets (quantisation only, plus the read noise of the
measured-map decoder) at several level counts, against software generation on the same
latents (N(0, I), n images).

    python scripts/demo_levels.py [--levels 8,12,16,32] [-n 8000]

Prints one line per level count: FCD, FCD / software FCD. No bench time is spent: the maps
are the targets ``ftjlab demo`` would program (``decoder_mapping`` on the shipped bench).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import READ_BIAS_V, VMM_NPLC, decoder_mapping
    from ftjlab.vae.engine import MeasuredMapDecoder, array_decoder_from_maps
    from ftjlab.vae.metrics import Evaluator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="8,12,16,32")
    ap.add_argument("-n", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    evaluator = Evaluator()
    with BenchSession.open(None, seed=args.seed) as session:
        c = ArrayController(session)
        params = session.config.array
        model, _ = decoder_mapping(c, 32)
        z = np.random.default_rng(args.seed).standard_normal((args.n, model.latent_dim))
        fcd_sw = evaluator.evaluate(model.decode(z), precision_recall=False).fcd
        print(f"software: FCD {fcd_sw:.2f} (n = {args.n})")
        for levels in (int(x) for x in args.levels.split(",")):
            _, mapping = decoder_mapping(c, levels, model)
            maps = {k: mapping.load_targets(k) for k in range(mapping.n_loads)}
            decoder = MeasuredMapDecoder(array_decoder_from_maps(
                model, mapping, maps, params, READ_BIAS_V, aperture_s=VMM_NPLC / c.linefreq),
                args.seed + 1)
            fcd = evaluator.evaluate(decoder.decode(z), precision_recall=False).fcd
            print(f"{levels:3d} levels: FCD {fcd:.2f}, {fcd / fcd_sw:.3f} x software")


if __name__ == "__main__":
    main()

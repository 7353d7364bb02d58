"""``ftjlab rng-test``: SP 800-22 (m sequences, section 4.2 criteria) and SP 800-90B
min-entropy of random bits from RTN, printed and stored in HDF5.

Sources (exactly one):

* ``FILE`` - a recorded run: a trace stream (bits by thresholding each reading at the
  trace's two-level split, or by the parity of HMM dwell lengths) or a stream of packed bits;
  results go to ``/runs/<id>/analysis/<name>`` of that file.
* ``--bench [PATH]`` - a bench (default: the shipped simulated one), through its instruments:
  bits from the array's RTN acquired through the SMU buffers (screened cells, XOR of k cells,
  optional von Neumann); bits and results go to a new run file in ``--out``.
* ``--reference pcg64|biased`` - the controls: numpy PCG64 and a p = 0.51 source.

``--source switching`` takes the bits from stochastic switching instead of RTN: the flip of
every cell at every step of a ``switching-noise`` run (FILE), or drawn live through the
bench's instruments (``--bench --calibration RUNFILE --p 0.5``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ftjlab.validate import arg_float, arg_int

ORDER = 61
DEFAULT_OUT = "runs"


def register(sub) -> None:
    p = sub.add_parser(
        "rng-test",
        help="SP 800-22 / SP 800-90B randomness report of RTN bits (file, bench or reference)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", help="run file (HDF5) with a trace or packed bits")
    p.add_argument("--run", metavar="ID", help="run id (default: the file's latest run)")
    p.add_argument("--dataset", default="current", help="stream to read (default: current)")
    p.add_argument("--cell", type=arg_int(lo=0), default=0, help="column of a multi-cell trace")
    p.add_argument("--extract", choices=("threshold", "parity"), default="threshold",
                   help="bits from a trace: level threshold (default) or dwell-length parity")
    p.add_argument("--post", default="none",
                   help="post-processing of a file's bits: none, vn, xor:K (default none)")
    p.add_argument("--bench", nargs="?", const="", metavar="PATH",
                   help="bits from a bench's RTN through its instruments (default: the shipped "
                   "simulated bench)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1),
                   help="seed of the simulated bench (default: config's)")
    p.add_argument("--bias-v", type=arg_float(), default=0.8, help="sampling bias (bench)")
    p.add_argument("--spacing-s", type=arg_float(lo=0, lo_open=True, hi=3600), default=1e-3,
                   help="reading spacing (bench)")
    p.add_argument("--xor", type=arg_int(lo=1, hi=4096), default=8,
                   help="cells XOR-ed per bit (bench)")
    p.add_argument("--vn", action="store_true", help="von Neumann after XOR (bench)")
    p.add_argument("--source", choices=("rtn", "switching"), default="rtn",
                   help="bits from RTN (default) or from stochastic switching (flip bits)")
    p.add_argument("--calibration", metavar="RUNFILE",
                   help="switching-noise run with calibration trials (--source switching "
                   "--bench)")
    p.add_argument("--reference", choices=("pcg64", "biased"), help="a control source")
    p.add_argument("--p", type=arg_float(lo=0, hi=1, lo_open=True, hi_open=True), default=0.51,
                   help="P(1) of the biased reference")
    p.add_argument("--sequences", type=arg_int(lo=1, hi=100_000),
                   help="number of sequences (default 100 for bench/reference, as many as "
                   "fit for a file)")
    p.add_argument("--length", type=arg_int(lo=1000, hi=10**9), default=1_000_000,
                   help="bits per sequence")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"folder for the run file of --bench/--reference (default ./{DEFAULT_OUT})")
    p.add_argument("--name", default="rng_test", help="result group name (default rng_test)")
    p.add_argument("--no-store", action="store_true", help="print only")
    p.set_defaults(func=run)


def _progress(total: int):
    def cb(i: int) -> None:
        sys.stderr.write(f"\rsequence {i}/{total}")
        if i == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return cb


def _post(bits: np.ndarray, spec: str) -> np.ndarray:
    from ftjlab.errors import BadInput
    from ftjlab.rtn import bits as bitops

    if spec == "none":
        return bits
    if spec == "vn":
        return bitops.von_neumann(bits)
    if spec.startswith("xor:"):
        try:
            k = int(spec[4:])
        except ValueError:
            raise BadInput(f"--post: xor:K needs an integer K, got {spec!r}") from None
        if not 1 <= k <= 4096:
            raise BadInput(f"--post: xor:K needs 1 <= K <= 4096, got {spec!r}")
        return bitops.xor_fold(bits, k)
    raise BadInput(f"--post: none, vn or xor:K, got {spec!r}")


def _file_bits(args) -> tuple[np.ndarray, dict, str]:
    from ftjlab import store
    from ftjlab.errors import BadInput
    from ftjlab.rtn import bits as bitops
    from ftjlab.rtn.rng import otsu_thresholds
    from ftjlab.rtn.source import Trace

    info = store.open_run(args.file, args.run)
    if args.dataset not in info.datasets:
        raise BadInput(f"--dataset: run {info.run_id!r} has no dataset {args.dataset!r} "
                       f"(has: {sorted(info.datasets)})")
    shape, dtype, _ = info.datasets[args.dataset]
    if dtype == "uint8" and len(shape) == 2:  # packed bits, one sequence per record
        parts = [np.unpackbits(b.ravel()) for b in store.iter_blocks(args.file, args.dataset,
                                                                   info.run_id, 64)]
        bits = np.concatenate(parts)
        return _post(bits, args.post), {"source": "packed bits", "dataset": args.dataset}, \
            info.run_id
    trace = Trace.from_run(args.file, info.run_id, args.dataset, args.cell)
    trace.check(min_samples=1000)
    if args.extract == "threshold":
        thr, sep = otsu_thresholds(trace.read(0, min(trace.n, 1 << 20))[None, :])
        bits = np.concatenate([(b > thr[0]).astype(np.uint8) for b in trace.blocks()])
        src = {"source": "trace, threshold", "threshold_a": float(thr[0]),
               "level_separation": float(sep[0])}
    else:
        from ftjlab.rtn.hmm import GaussianHMM

        m = GaussianHMM(2).fit(trace)
        _, lengths = m.dwells(trace)
        bits = (lengths[1:-1] & 1).astype(np.uint8)
        src = {"source": "trace, dwell parity"}
    if bits.size == 0 or np.all(bits == bits[0]):
        raise BadInput(f"{trace.name}: the extracted bits are all equal: no randomness")
    raw = bits
    bits = _post(bits, args.post)
    src.update({"dataset": args.dataset, "cell": args.cell, "post": args.post,
                "raw_bits": int(raw.size), "bits": int(bitops.as_bits(bits).size)})
    return bits, src, info.run_id


def _check_post(spec: str) -> None:
    """``--post`` checked before any bits are read (the same rules as :func:`_post`)."""
    _post(np.zeros(8, dtype=np.uint8), spec)  # 8 bits: vn and xor:K refuse empty input


def run(args: argparse.Namespace) -> int:
    from ftjlab.errors import BadInput

    chosen = [args.file is not None, args.bench is not None, args.reference is not None]
    if sum(chosen) != 1:
        raise BadInput("give exactly one source: FILE, --bench [PATH] or --reference")
    closers: list = []  # the bench session of --bench: closed (safe) however the run ends
    try:
        return _run(args, closers)
    finally:
        for close in closers:
            close()


def _run(args: argparse.Namespace, closers: list) -> int:
    from ftjlab import validate
    from ftjlab.errors import BadInput
    from ftjlab.rtn import rng

    _check_post(args.post)
    if not args.no_store:  # results only ever go to analysis/<name>, runs to --out
        validate.result_name("--name", args.name)
        if args.file is None:
            validate.out_dir("--out", args.out, create=False)
    if args.length < 1000:
        raise BadInput(f"--length: at least 1000 bits per sequence, got {args.length}")
    if args.sequences is not None and args.sequences < 1:
        raise BadInput(f"--sequences: must be >= 1, got {args.sequences}")

    if args.source == "switching" and args.reference is not None:
        raise BadInput("--source switching: give FILE or --bench, not --reference")
    if args.file is not None:
        if args.source == "switching":
            from ftjlab.switching.trng import flip_bits_from_run

            raw_bits, src = flip_bits_from_run(args.file, args.run)
            bits = _post(raw_bits, args.post)
            src.update({"post": args.post, "raw_bits": int(raw_bits.size),
                        "bits": int(bits.size)})
            run_id = args.run
        else:
            bits, src, run_id = _file_bits(args)
        length = min(args.length, bits.size)
        seqs = rng.split_sequences(bits, length, args.sequences)
        report = rng.rng_report(rng.sequence_feeder(seqs), len(seqs), length, src,
                                progress=_progress(len(seqs)))
        print(report.text())
        if not args.no_store:
            from ftjlab import store

            group = store.add_results(args.file, args.name, report.arrays(), report.attrs(),
                                      run_id)
            print(f"stored in {args.file}:{group}")
        return 0

    m = args.sequences or 100
    raw = None
    if args.reference is not None:
        counter = iter(range(1 << 30))
        params = {"reference": args.reference, "p": args.p, "seed": args.seed or 0}

        def next_sequence(n: int) -> np.ndarray:
            return rng.reference_bits(args.reference, n, seed=(args.seed or 0) * 1000 +
                                      next(counter), p=args.p)

        src = {"source": f"reference {args.reference}" + (f" p={args.p}" if
                                                           args.reference == "biased" else "")}
        bench_snapshot: dict = {}
    elif args.source == "switching":
        next_sequence, src, bench_snapshot, raw = _switching_bench(args, closers)
        params = {**src, "seed": bench_snapshot.get("seed")}
    else:
        from ftjlab.config import load_bench_config
        from ftjlab.controller import ArrayController
        from ftjlab.rtn.bench import BenchCellReader
        from ftjlab.session import BenchSession

        config = load_bench_config(args.bench or None)
        limit = config.limits.get("max_sample_voltage_v")
        if limit is not None and abs(args.bias_v) > float(limit):
            raise BadInput(f"--bias-v: {args.bias_v} V exceeds the bench limit "
                           f"max_sample_voltage_v = {limit} V")
        session = BenchSession.open(args.bench or None, seed=args.seed)
        controller = ArrayController(session)
        closers.append(lambda: (controller.safe_state(), session.close()))
        reader = BenchCellReader(controller)
        # aperture: 0.006 NPLC, within the SMU's integration range (the default 10 us is not)
        source = rng.DeviceBitSource(reader, bias_v=args.bias_v, spacing_s=args.spacing_s,
                                     aperture_s=1e-4, xor_cells=args.xor, von_neumann=args.vn)
        source.screen()
        raw = source.raw_bits(max(1, 1_000_000 // len(source.cells) + 1)).ravel()[:1_000_000]
        stream = source.stream()
        buf = [np.empty(0, dtype=np.uint8)]

        def next_sequence(n: int) -> np.ndarray:
            have = buf[0]
            parts = [have]
            total = have.size
            while total < n:
                b = next(stream)
                parts.append(b)
                total += b.size
            joined = np.concatenate(parts)
            buf[0] = joined[n:]
            return joined[:n]

        src = source.describe()
        bench_snapshot = session.snapshot()
        params = {**src, "seed": bench_snapshot.get("seed")}

    feed = next_sequence
    writer = None
    if not args.no_store:
        from ftjlab.store import RunWriter, StreamSpec

        writer = RunWriter.create(
            args.out, "rng-test", {**params, "sequences": m, "length": args.length},
            bench_snapshot,
            {"bits": StreamSpec(np.uint8, "packed bits (MSB first), one sequence per record",
                                ((args.length + 7) // 8,))},
        )
        def feed(n: int) -> np.ndarray:  # record exactly what is tested
            seq = next_sequence(n)
            writer.append("bits", np.packbits(seq)[None, :])
            return seq

    try:
        report = rng.rng_report(feed, m, args.length, src, raw_bits=raw,
                                progress=_progress(m))
    except BaseException as exc:
        if writer is not None:
            writer.finish("aborted" if isinstance(exc, KeyboardInterrupt) else "failed",
                          f"{type(exc).__name__}: {exc}")
        raise
    print(report.text())
    if writer is not None:
        writer.finish("completed")
        from ftjlab.store import add_results

        group = add_results(writer.path, args.name, report.arrays(), report.attrs())
        print(f"stored in {writer.path}:{group}")
    return 0


def _switching_bench(args, closers: list):
    """Flip bits drawn live through the bench (word line 0, the calibrated cells), with the
    post-processing of ``--post``; everything is checked before the bench opens."""
    from ftjlab.controller import ArrayController
    from ftjlab.errors import BadInput
    from ftjlab.procedures.switching_noise import load_calibration
    from ftjlab.session import BenchSession
    from ftjlab.switching.engine import SwitchingCells
    from ftjlab.switching.trng import SwitchingBitSource

    if not args.calibration:
        raise BadInput("--calibration: --source switching --bench needs a switching-noise run "
                       "file with calibration trials")
    cal = load_calibration(args.calibration, "--calibration")
    p = args.p if args.p != 0.51 else 0.5  # --p: the flip probability (default 0.5)
    session = BenchSession.open(args.bench or None, seed=args.seed)
    controller = ArrayController(session)
    closers.append(lambda: (controller.safe_state(), session.close()))
    cells = SwitchingCells(controller, cal.cells)
    source = SwitchingBitSource(cells, cal, p=p,
                                max_volts=session.limits.max_program_voltage_v)
    source.start()
    stream = source.stream(session.now_s)
    buf = [np.empty(0, dtype=np.uint8)]
    desc = source.describe()
    cells_per_step = int(source.use.sum())
    factor = 4 if args.post == "vn" else int(args.post[4:]) if args.post.startswith("xor:") else 1

    def next_sequence(n: int) -> np.ndarray:
        parts, total = [buf[0]], buf[0].size
        while total < n:
            want = (n - total) * factor  # raw bits this post-processing needs for the rest
            steps = min(max(1, -(-want // cells_per_step)), max(1, 4096 // cells_per_step))
            raw = np.concatenate([next(stream) for _ in range(steps)])
            b = _post(raw, args.post)  # post-processing within each block of raw bits
            parts.append(b)
            total += b.size
        joined = np.concatenate(parts)
        buf[0] = joined[n:]
        desc.update(source.describe(), post=args.post)  # rates so far, shown in the report
        return joined[:n]

    return next_sequence, desc, session.snapshot(), None

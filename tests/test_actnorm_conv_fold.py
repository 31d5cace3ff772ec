"""`FoldedActNormConv1x1`: Glow's ActNorm + 1x1 convolution as one matmul, alone and inside Glow."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import autodiff_log_det
from tfp_flows.bijectors import ActNorm, FoldedActNormConv1x1, Invertible1x1Conv, Squeeze, fold_steps
from tfp_flows.bijectors._walk import walk
from tfp_flows.layers import ActNormLayer, Invertible1x1ConvLayer
from tfp_flows.models import Glow

tfb = tfp.bijectors
CHANNELS = 3


def _parts(lu: bool, channels: int = CHANNELS, event_ndims: int = 3, seed: int = 0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    actnorm = ActNorm(
        rng.normal(0, 0.5, channels).astype(dtype), rng.normal(0, 0.3, channels).astype(dtype),
        event_ndims=event_ndims,
    )
    if lu:
        params = Invertible1x1Conv.initial_lu(channels, seed=seed, dtype=dtype)
        params["upper"] = params["upper"] + rng.normal(0, 0.3, (channels, channels)).astype(dtype)
        params["lower"] = params["lower"] + rng.normal(0, 0.3, (channels, channels)).astype(dtype)
        params["log_scale"] = params["log_scale"] + rng.normal(0, 0.3, channels).astype(dtype)
        conv = Invertible1x1Conv(**params, event_ndims=event_ndims)
    else:
        matrix = Invertible1x1Conv.initial_matrix(channels, seed) + rng.normal(0, 0.3, (channels, channels))
        conv = Invertible1x1Conv(matrix.astype(dtype), event_ndims=event_ndims)
    return actnorm, conv


@pytest.mark.parametrize("lu", [True, False], ids=["lu", "plain"])
@pytest.mark.parametrize("shape", [(2, 4, 4, CHANNELS), (4, 4, CHANNELS), (2, 3, 4, 4, CHANNELS)], ids=["batch", "no_batch", "batch_2d"])
def test_folded_equals_chain_and_round_trips(lu, shape):
    actnorm, conv = _parts(lu)
    folded, chain = FoldedActNormConv1x1(actnorm, conv), tfb.Chain([conv, actnorm])
    x = tf.random.stateless_normal(shape, seed=[1, 2])
    y = folded.forward(x)
    np.testing.assert_allclose(y, chain.forward(x), atol=1e-5)
    np.testing.assert_allclose(folded.inverse(y), x, atol=1e-5)
    np.testing.assert_allclose(folded.inverse(y), chain.inverse(y), atol=1e-5)
    fldj = folded.forward_log_det_jacobian(x, event_ndims=3)
    assert fldj.shape == shape[:-3]
    np.testing.assert_allclose(fldj, chain.forward_log_det_jacobian(x, event_ndims=3), atol=1e-5)
    np.testing.assert_allclose(folded.inverse_log_det_jacobian(y, event_ndims=3), -fldj, atol=1e-5)


@pytest.mark.parametrize("lu", [True, False], ids=["lu", "plain"])
def test_float64_equals_chain_to_1e_10(lu):
    actnorm, conv = _parts(lu, dtype=np.float64)
    folded, chain = FoldedActNormConv1x1(actnorm, conv), tfb.Chain([conv, actnorm])
    x = tf.random.stateless_normal([2, 4, 4, CHANNELS], seed=[5, 6], dtype=tf.float64)
    y, log_det = folded.forward(x), folded.forward_log_det_jacobian(x, event_ndims=3)
    assert y.dtype == log_det.dtype == tf.float64
    np.testing.assert_allclose(y, chain.forward(x), atol=1e-10)
    np.testing.assert_allclose(log_det, chain.forward_log_det_jacobian(x, event_ndims=3), atol=1e-10)
    np.testing.assert_allclose(folded.inverse(y), x, atol=1e-10)


@pytest.mark.parametrize("lu", [True, False], ids=["lu", "plain"])
def test_unknown_batch_under_tf_function(lu):
    actnorm, conv = _parts(lu)
    folded, chain = FoldedActNormConv1x1(actnorm, conv), tfb.Chain([conv, actnorm])

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, CHANNELS])])
    def both(x):
        y, log_det = folded.forward_and_log_det(x)
        back, inverse_log_det = folded.inverse_and_log_det(y)
        return y, log_det, back, inverse_log_det

    x = tf.random.stateless_normal([5, 2, 2, CHANNELS], seed=[3, 4])
    y, log_det, back, inverse_log_det = both(x)
    np.testing.assert_allclose(y, chain.forward(x), atol=1e-5)
    np.testing.assert_allclose(log_det, chain.forward_log_det_jacobian(x, event_ndims=3), atol=1e-5)
    np.testing.assert_allclose(back, x, atol=1e-5)
    np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-5)


@pytest.mark.parametrize("lu", [True, False], ids=["lu", "plain"])
def test_log_det_matches_autodiff_jacobian(lu):
    actnorm, conv = _parts(lu, channels=2, seed=5)
    folded = FoldedActNormConv1x1(actnorm, conv)
    x = tf.random.stateless_normal([3, 2, 2, 2], seed=[5, 6])
    np.testing.assert_allclose(folded.forward_log_det_jacobian(x, event_ndims=3), autodiff_log_det(folded.forward, x), atol=1e-4)
    y = folded.forward(x)
    np.testing.assert_allclose(folded.inverse_log_det_jacobian(y, event_ndims=3), autodiff_log_det(folded.inverse, y), atol=1e-4)


def test_vector_events():
    actnorm, conv = _parts(True, event_ndims=1)
    folded = FoldedActNormConv1x1(actnorm, conv)
    x = tf.random.stateless_normal([4, CHANNELS], seed=[7, 8])
    np.testing.assert_allclose(folded.forward(x), conv.forward(actnorm.forward(x)), atol=1e-5)
    np.testing.assert_allclose(folded.forward_log_det_jacobian(x, event_ndims=1), autodiff_log_det(folded.forward, x), atol=1e-4)


def test_parameters_stay_live():
    actnorm_layer = ActNormLayer(CHANNELS, name="an")
    conv_layer = Invertible1x1ConvLayer(CHANNELS, seed=1, name="conv")
    folded = FoldedActNormConv1x1(actnorm_layer.bijector(), conv_layer.bijector())
    x = tf.random.stateless_normal([2, 2, 2, CHANNELS], seed=[9, 10])
    before = folded.forward(x).numpy()
    actnorm_layer.log_scale.assign([0.5, -0.5, 0.25])
    actnorm_layer.shift.assign([1.0, 2.0, 3.0])
    after = folded.forward(x)
    assert np.max(np.abs(after - before)) > 0.1
    np.testing.assert_allclose(after, conv_layer.bijector().forward(actnorm_layer.bijector().forward(x)), atol=1e-5)
    conv_layer.log_scale.assign(conv_layer.log_scale + 0.3)  # the convolution's parameters too
    fresh = tf.identity(x)  # TFP caches log-dets per input tensor in eager mode: a new tensor, a new pass
    np.testing.assert_allclose(
        folded.forward_log_det_jacobian(fresh, event_ndims=3), 4 * (0.5 - 0.5 + 0.25 + float(tf.reduce_sum(conv_layer.log_scale))), atol=1e-5
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(folded.forward(tf.identity(x)) ** 2)
    grads = tape.gradient(loss, [actnorm_layer.shift, actnorm_layer.log_scale, conv_layer.lower, conv_layer.upper])
    assert all(g is not None for g in grads)


def test_bad_parts_raise():
    actnorm, conv = _parts(True)
    with pytest.raises(ValueError, match="4 channels but the 1x1 convolution 3"):
        FoldedActNormConv1x1(ActNorm(tf.zeros(4), tf.zeros(4)), conv)
    with pytest.raises(ValueError, match="same event_ndims, got 1 and 3"):
        FoldedActNormConv1x1(ActNorm(tf.zeros(3), tf.zeros(3), event_ndims=1), conv)
    with pytest.raises(ValueError, match="expected an ActNorm"):
        FoldedActNormConv1x1(tfb.Identity(), conv)
    with pytest.raises(ValueError, match="expected an Invertible1x1Conv"):
        FoldedActNormConv1x1(actnorm, tfb.Identity())
    with pytest.raises(ValueError, match=r"event shape \(None, None, 3\)"):
        FoldedActNormConv1x1(actnorm, conv).forward(tf.zeros([2, 2, 2, 4]))


# ------------------------------------------------------------------ inside Glow
def _glow_pair(**kwargs):
    """Two tiny Glows with the same (perturbed, non-trivial) weights: ActNorm folded and not."""
    config = dict(event_shape=(4, 4, 1), levels=2, steps=2, hidden_channels=4, num_bins=16, seed=0)
    config.update(kwargs)
    folded, unfolded = Glow(**config), Glow(fold_actnorm=False, **config)
    folded.initialize(np.random.default_rng(0).integers(0, 16, (8, 4, 4, 1)))
    rng = np.random.default_rng(1)
    weights = [w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.dtype.kind == "f" else w for w in folded.get_weights()]
    folded.set_weights(weights)
    unfolded.set_weights(weights)
    return folded, unfolded


@pytest.fixture(scope="module")
def glows():
    return _glow_pair()


def test_glow_structure_stays_unfolded_for_users(glows):
    folded, unfolded = glows
    assert folded._folds_actnorm() and not unfolded._folds_actnorm()
    names = [type(b).__name__ for b in _leaves(folded.bijector)]
    assert "ActNorm" in names and "Invertible1x1Conv" in names and "FoldedActNormConv1x1" not in names
    assert names.count("FoldedActNormConv1x1") == 0
    assert [type(b).__name__ for b in _leaves(folded._fast_flow())].count("FoldedActNormConv1x1") == 4


def test_glow_log_prob_sample_gradients_equal(glows):
    folded, unfolded = glows
    y = folded.dequantize(np.random.default_rng(2).integers(0, 16, (6, 4, 4, 1)))
    np.testing.assert_allclose(folded.log_prob(y), unfolded.log_prob(y), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(folded.log_prob(y), folded.distribution.log_prob(y), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(folded.sample(3, seed=4), unfolded.sample(3, seed=4), atol=1e-4)
    np.testing.assert_allclose(folded.encode(y), unfolded.encode(y), atol=1e-4)
    np.testing.assert_allclose(folded.decode(folded.encode(y)), y, atol=1e-4)
    grads = []
    for model in glows:
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model._log_prob_folded(y))
        grads.append(tape.gradient(loss, model.trainable_variables))
    assert len(grads[0]) == len(grads[1])
    for a, b, v in zip(*grads, folded.trainable_variables):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=v.path)


@pytest.mark.parametrize(
    "config", [dict(lu=False, levels=1), dict(num_classes=3), dict(dtype="mixed_bfloat16", levels=1)], ids=["plain", "conditional", "mixed"]
)
def test_glow_variants_equal(config):
    folded, unfolded = _glow_pair(**config)
    y = folded.dequantize(np.random.default_rng(3).integers(0, 16, (4, 4, 4, 1)))
    labels = {"labels": [0, 1, 2, 1]} if "num_classes" in config else {}
    log_prob = folded.log_prob(y, **labels)
    assert log_prob.dtype == tf.float32
    np.testing.assert_allclose(log_prob, unfolded.log_prob(y, **labels), rtol=1e-5, atol=1e-3)
    if labels:  # conditional sampling routes the labels through the folded flow
        np.testing.assert_allclose(folded.sample(2, seed=1, labels=[0, 2]), unfolded.sample(2, seed=1, labels=[0, 2]), atol=1e-4)


def test_glow_fold_setting_saved(tmp_path):
    import keras

    model = Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, num_bins=16, fold_actnorm=False)
    model.save(tmp_path / "glow.keras")
    loaded = keras.saving.load_model(tmp_path / "glow.keras")
    assert loaded.fold_actnorm is False
    assert Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, permutation="shuffle")._folds_actnorm() is False


def _leaves(bijector):
    inner = getattr(bijector, "bijectors", None)
    if inner is None:
        inner = [bijector.bijector] if isinstance(getattr(bijector, "bijector", None), tfb.Bijector) else []
        inner += [bijector.inner] if isinstance(getattr(bijector, "inner", None), tfb.Bijector) else []
    if not inner:
        return [bijector]
    return [leaf for part in inner for leaf in _leaves(part)]


# ------------------------------------------------------------------ folds of one level, computed together
def _variable_pairs(lu: bool, count: int = 2):
    """`count` (ActNorm, 1x1 conv) pairs whose parameters are variables (gradients reach them)."""
    pairs = []
    for seed in range(count):
        actnorm, conv = _parts(lu, seed=seed)
        actnorm = ActNorm(tf.Variable(actnorm.shift), tf.Variable(actnorm.log_scale))
        params = conv._read_parameters()
        variables = {k: (v if k == "permutation" else tf.Variable(v)) for k, v in params.items()}
        conv = Invertible1x1Conv(variables.pop("matrix")) if "matrix" in variables else Invertible1x1Conv(**variables)
        pairs.append((actnorm, conv))
    return pairs


@pytest.mark.parametrize("lu", [True, False], ids=["lu", "plain"])
def test_fold_steps_in_a_graph_equal_separate_folds_with_gradients(lu):
    """Stacked in a graph (unknown batch and spatial sizes): the same outputs, log-dets and gradients,
    both directions, as folds computing their own matrices eagerly; and fewer ops in the graph."""
    pairs = _variable_pairs(lu)
    stacked, separate = fold_steps(*zip(*pairs)), [FoldedActNormConv1x1(a, c) for a, c in pairs]
    variables = [v for a, c in pairs for v in a.trainable_variables + c.trainable_variables]

    def passes(folds, x):
        with tf.GradientTape() as tape:
            outputs = [fold._forward_and_compact_log_det(x) for fold in folds] + [fold._inverse_and_compact_log_det(x) for fold in folds]
            loss = tf.add_n([tf.reduce_sum(y ** 2) + log_det for y, log_det in outputs])
        return outputs, tape.gradient(loss, variables)

    spec = tf.TensorSpec([None, None, None, CHANNELS])
    graph = tf.function(lambda x: passes(stacked, x), input_signature=[spec], autograph=False)
    x = tf.random.stateless_normal([2, 3, 2, CHANNELS], seed=[11, 12])
    (outputs, grads), (expected, expected_grads) = graph(x), passes(separate, x)
    for (y, log_det), (y_ref, log_det_ref) in zip(outputs, expected):
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_det, log_det_ref, rtol=1e-5, atol=1e-5)
    for g, g_ref in zip(grads, expected_grads):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4)
    if lu:  # the point of stacking: fewer ops to trace (one per stage, not one per fold)
        one_by_one = tf.function(lambda x: passes(separate, x), input_signature=[spec], autograph=False).get_concrete_function()
        assert len(graph.get_concrete_function().graph.get_operations()) < len(one_by_one.graph.get_operations())


def test_unknown_rank_and_sizes_take_the_dynamic_shape_paths():
    """Shapes known only at run time (no rank; unknown spatial sizes): the results of static shapes."""
    actnorm, conv = _parts(True)
    folded, squeeze = FoldedActNormConv1x1(actnorm, conv), Squeeze()
    x = tf.random.stateless_normal([2, 3, 4, 4, CHANNELS], seed=[13, 14])

    def run(x):
        flow = tfb.Chain([tfb.Reshape(event_shape_out=(48,), event_shape_in=(2, 2, 12)), squeeze, tfb.Shift(0.5), folded, actnorm])
        y, log_det, _ = walk(flow, x, 3)
        return y, log_det, folded.forward_log_det_jacobian(x, event_ndims=3), squeeze.inverse(squeeze.forward(x))

    expected = run(x)
    assert expected[1].shape == (2, 3)
    for spec in (tf.TensorSpec(None), tf.TensorSpec([None, None, None, None, CHANNELS])):
        for got, want in zip(tf.function(run, input_signature=[spec], autograph=False)(x), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)

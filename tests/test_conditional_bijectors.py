"""Conditioning in the bijectors: `conditional_input` through couplings, FactorOut, ConditionalAffine, Chain and walk."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors import (
    AdditiveCoupling, AffineCoupling, ConditionalAffine, FactorOut, SplineCoupling, conditional_kwargs,
)
from tfp_flows.bijectors._walk import walk
from tfp_flows.networks import MLP

tfb, tfd = tfp.bijectors, tfp.distributions
D, C, N = 4, 3, 5


def _net(out, dtype="float32"):
    net = MLP(out, 8, 1, zero_init=False, context_dim=C, dtype=dtype)  # random output layer: a non-trivial map
    net.build((None, D // 2))
    return net


COUPLINGS = {
    "affine": lambda name="affine": AffineCoupling(_net(2 * D // 2), "halves", (D,), scale_fn="soft_clamp", conditional=True, name=name),
    "additive": lambda name="additive": AdditiveCoupling(_net(D // 2), "halves", (D,), conditional=True, name=name),
    "spline": lambda name="spline": SplineCoupling(_net(D // 2 * 11), "halves", (D,), spline_bins=4, spline_bound=3.0, conditional=True, name=name),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return tf.constant(rng.normal(size=(N, D)), tf.float32), tf.constant(rng.normal(size=(N, C)), tf.float32)


def _autodiff_log_det(fn, x):
    x = tf.identity(x)  # a new tensor: TFP's cache must not answer with a result computed off the tape
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    jac = tape.batch_jacobian(y, x)
    return tf.linalg.slogdet(jac)[1]


@pytest.fixture(scope="module", params=sorted(COUPLINGS))
def coupling(request):
    return COUPLINGS[request.param]()


def test_coupling_round_trip_and_log_det_match_autodiff(coupling, data):
    x, c = data
    y = coupling.forward(x, conditional_input=c)
    np.testing.assert_allclose(coupling.inverse(y, conditional_input=c), x, atol=1e-4)
    fldj = coupling.forward_log_det_jacobian(x, 1, conditional_input=c)
    np.testing.assert_allclose(fldj, _autodiff_log_det(lambda v: coupling.forward(v, conditional_input=c), x), atol=1e-4)
    ildj = coupling.inverse_log_det_jacobian(y, 1, conditional_input=c)
    np.testing.assert_allclose(ildj, -fldj, atol=1e-4)


def test_coupling_output_depends_on_the_condition(coupling, data):
    x, c = data
    assert not np.allclose(coupling.forward(x, conditional_input=c), coupling.forward(x, conditional_input=c + 1.0))


def test_cached_log_det_is_keyed_by_the_condition(data):
    coupling = COUPLINGS["affine"]()
    x, c = data
    coupling.forward(x, conditional_input=c)  # fills TFP's cache for (x, c)
    other = c * 2.0 + 0.5
    fresh = _autodiff_log_det(lambda v: coupling.forward(v, conditional_input=other), x)
    np.testing.assert_allclose(coupling.forward_log_det_jacobian(x, 1, conditional_input=other), fresh, atol=1e-4)


def test_condition_broadcasts_against_the_batch(data):
    b = COUPLINGS["affine"]()
    x, c = data
    per_row = b.forward(x, conditional_input=tf.broadcast_to(c[:1], [N, C]))
    np.testing.assert_allclose(b.forward(x, conditional_input=c[:1]), per_row, atol=1e-6)  # one c for the batch
    np.testing.assert_allclose(b.forward(x, conditional_input=c[0]), per_row, atol=1e-6)  # no batch dims on c
    grid = b.forward(x[0], conditional_input=c)  # one x, many contexts
    assert grid.shape == (N, D)
    np.testing.assert_allclose(grid[2], b.forward(x[:1], conditional_input=c[2:3])[0], atol=1e-6)
    two = b.forward(tf.stack([x, x]), conditional_input=c)  # [2, N] batch
    np.testing.assert_allclose(two[1], b.forward(x, conditional_input=c), atol=1e-6)
    assert b.forward_log_det_jacobian(x[0], 1, conditional_input=c).shape == (N,)
    with pytest.raises(ValueError, match="does not broadcast"):
        b.forward(x, conditional_input=c[:2])


def test_missing_or_unexpected_condition_is_refused(data):
    x, c = data
    with pytest.raises(ValueError, match="conditional=True"):
        COUPLINGS["affine"]().forward(x)
    plain = AffineCoupling(lambda x_a: tf.zeros(tf.concat([tf.shape(x_a)[:-1], [D]], 0)), "halves", (D,))
    with pytest.raises(ValueError, match="unconditional"):
        plain.forward(x, conditional_input=c)
    with pytest.raises(ValueError, match="scalar"):
        COUPLINGS["affine"]().forward(x, conditional_input=tf.constant(1.0))
    with pytest.raises(ValueError, match="context_dim=3"):  # the network names the width it wants
        COUPLINGS["affine"]().forward(x, conditional_input=tf.zeros([N, C + 1]))


def test_chain_routes_by_name_into_distribution_log_prob_and_sample(data):
    x, c = data
    first, second = COUPLINGS["affine"]("first"), COUPLINGS["spline"]("second")
    chain = tfb.Chain([second, tfb.Shift(0.5), first])
    kwargs = conditional_kwargs(chain, c)
    assert set(kwargs) == {"first", "second"}
    other = c[::-1]
    by_name = {"first": {"conditional_input": c}, "second": {"conditional_input": other}}
    expected = second.forward(first.forward(x, conditional_input=c) + 0.5, conditional_input=other)
    np.testing.assert_allclose(chain.forward(x, **by_name), expected, atol=1e-5)
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [D]), chain)
    z, log_det, _ = walk(tfb.Invert(chain), x, 1, **by_name)  # walk routes as TFP does
    np.testing.assert_allclose(dist.log_prob(x, bijector_kwargs=by_name), dist.distribution.log_prob(z) + log_det, atol=1e-4)
    assert dist.sample(N, seed=1, bijector_kwargs=kwargs).shape == (N, D)


@pytest.fixture(scope="module")
def split_flow():
    """FactorOut with a conditional prior around an inner chain holding a conditional coupling."""
    def prior(h_kept, conditional_input):
        mean = tf.tanh(h_kept) + tf.reduce_sum(conditional_input, -1)[:, None, None, None]  # F = 2 channels
        return tf.concat([mean, 0.1 * tf.tanh(h_kept) + 0.2 * conditional_input[:, None, None, :1]], axis=-1)

    inner_coupling = AffineCoupling(
        lambda x_a, conditional_input: tf.concat([tf.tanh(x_a) + conditional_input[:, None, None, :1], 0.3 * tf.tanh(x_a)], -1),
        "channel", (2, 2, 2), conditional=True, name="inner_coupling",
    )
    inner = tfb.Chain([inner_coupling, tfb.Reshape(event_shape_out=(2, 2, 2), event_shape_in=(8,))], name="inner")
    return FactorOut(inner, event_shape=(2, 2, 4), prior=prior, conditional=True, name="split")


def test_factor_out_with_conditional_prior_and_inner_coupling(split_flow, data):
    _, c = data
    z = tf.random.stateless_normal([N, 16], seed=[3, 4])
    kwargs = conditional_kwargs(split_flow, c)
    assert set(kwargs) == {"conditional_input", "inner_coupling"}  # the rest goes to the inner chain
    h = split_flow.forward(z, **kwargs)
    np.testing.assert_allclose(split_flow.inverse(h, **kwargs), z, atol=1e-5)
    flat = lambda v: tf.reshape(split_flow.forward(v, **kwargs), [N, 16])  # noqa: E731
    np.testing.assert_allclose(split_flow.forward_log_det_jacobian(z, 1, **kwargs), _autodiff_log_det(flat, z), atol=1e-4)
    h_walk, log_det, _ = walk(split_flow, z, 1, **kwargs)
    np.testing.assert_allclose(h_walk, h, atol=1e-6)
    np.testing.assert_allclose(log_det, split_flow.forward_log_det_jacobian(z, 1, **kwargs), atol=1e-5)
    assert not np.allclose(split_flow.forward(z, **conditional_kwargs(split_flow, c + 1.0)), h)
    with pytest.raises(ValueError, match="conditional"):
        split_flow.forward(z)


def test_conditional_affine_log_det_round_trip_and_unknown_batch(data):
    x, c = data
    weights = tf.constant(np.random.default_rng(1).normal(size=(C, 2 * D)), tf.float32)
    b = ConditionalAffine(lambda ctx: tf.matmul(ctx, weights), event_shape=(D,))
    y = b.forward(x, conditional_input=c)
    np.testing.assert_allclose(b.inverse(y, conditional_input=c), x, atol=1e-5)
    np.testing.assert_allclose(
        b.forward_log_det_jacobian(x, 1, conditional_input=c), _autodiff_log_det(lambda v: b.forward(v, conditional_input=c), x), atol=1e-4
    )
    fn = tf.function(lambda v, ctx: b.forward(v, conditional_input=ctx),
                     input_signature=[tf.TensorSpec([None, D]), tf.TensorSpec([None, C])], autograph=False)
    np.testing.assert_allclose(fn(x, c), y, atol=1e-6)
    np.testing.assert_allclose(fn(x, c[:1]), b.forward(x, conditional_input=c[:1]), atol=1e-6)  # broadcast at run time


def test_float64_conditional_coupling(data):
    x, c = (tf.cast(t, tf.float64) for t in data)
    b = AffineCoupling(_net(D, dtype="float64"), "halves", (D,), scale_fn="soft_clamp", conditional=True)
    y = b.forward(x, conditional_input=c)
    assert y.dtype == tf.float64
    np.testing.assert_allclose(b.inverse(y, conditional_input=c), x, atol=1e-10)

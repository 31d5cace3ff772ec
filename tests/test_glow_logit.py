"""Glow with RealNVP's logit preprocessing (the digits preset): its Jacobian counts in log_prob."""
from __future__ import annotations

import numpy as np
import pytest

from tfp_flows import models

ALPHA = 0.05


@pytest.fixture(scope="module")
def model():
    return models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, num_bins=17, seed=0,
                       preprocessing="logit", alpha=ALPHA)


def test_log_prob_is_the_flow_of_the_logit_plus_its_jacobian(model):
    y = np.random.default_rng(0).uniform(0.0, 1.0, (3, 4, 4, 1)).astype("float32")
    s = ALPHA + (1 - 2 * ALPHA) * y.astype(np.float64)
    t = np.log(s) - np.log1p(-s)
    logit_log_det = np.sum(np.log(1 - 2 * ALPHA) - np.log(s) - np.log1p(-s), axis=(1, 2, 3))
    inner = model._flow().bijectors[0]  # Chain([flow, logit]): the flow after the preprocessing
    z = inner.forward(t.astype("float32"))
    expected = model.base_distribution.log_prob(z).numpy() + inner.forward_log_det_jacobian(t.astype("float32"), 3).numpy()
    np.testing.assert_allclose(model.log_prob(y).numpy(), expected + logit_log_det, rtol=1e-4, atol=1e-3)


def test_config_round_trip_and_support(model):
    clone = models.Glow.from_config(model.get_config())
    assert (clone.preprocessing, clone.alpha) == ("logit", ALPHA)
    with pytest.raises(ValueError, match=r"y must lie in \[0.0, 1.0\]"):
        model.log_prob(np.full((1, 4, 4, 1), 1.5, "float32"))
    assert models.Glow.presets()["digits"]["preprocessing"] == "logit"


def test_bad_preprocessing():
    with pytest.raises(ValueError, match="unknown preprocessing 'sigmoid'"):
        models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, preprocessing="sigmoid")
    with pytest.raises(ValueError, match=r"alpha as a finite number in \(0, 0.5\)"):
        models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, preprocessing="logit", alpha=0.0)

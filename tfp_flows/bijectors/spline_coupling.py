"""Neural spline coupling (Durkan et al. 2019): a monotone rational-quadratic spline per entry."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.masks import Mask

tfb = tfp.bijectors

DEFAULT_MIN_BIN_SIZE = 1e-3
DEFAULT_MIN_SLOPE = 1e-3


class SplineCoupling(Coupling):
    """Rational-quadratic spline coupling: `y_b = RQS(x_b; theta(x_a))`, `y_a = x_a`.

    The transform of every entry of `x_b` is TFP's `tfb.RationalQuadraticSpline` with
    `K = spline_bins` bins on `[-B, B]` (`B = spline_bound`) and the identity outside
    (linear tails of slope 1, so the map is a bijection of the real line). Per entry, the
    conditioner gives `3K - 1` unnormalised numbers `(w, h, d)`, normalised as in
    nflows/zuko:

      widths  = 2B * (m + (1 - K m) * softmax(w))     (each bin at least `2B m` wide)
      heights = 2B * (m + (1 - K m) * softmax(h))
      slopes  = s_min + softplus(d + log(expm1(1 - s_min)))   (the K - 1 interior knots)

    with `m = min_bin_size`, `s_min = min_slope`; the boundary knots have slope 1 so the
    tails join smoothly. The offset inside the softplus makes a zero conditioner output
    the identity map (equal bins, unit slopes), so zero-initialised heads start at the
    identity as affine couplings do.

    Forward:  `y_b = RQS(x_b)` inside `[-B, B]`, `y_b = x_b` outside; `y_a = x_a`
    Inverse:  `x_b = RQS^{-1}(y_b)` (the root of a quadratic per entry; Durkan et al., A.3)
    Log-det:  `sum log RQS'(x_b)` over the transformed entries (0 in the tails)

    The conditioner must output event shape `param_event_shape`: the shape of `x_b`
    with the last axis multiplied by `3K - 1` (entry-major: the `3K - 1` numbers of
    entry `i` are contiguous, widths then heights then slopes). Its output is cast to the
    data's dtype, so the spline and log-det are float32 under mixed precision.

    `conditional=True` makes the conditioner take `conditional_input=c` too (see `Coupling`).

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import SplineCoupling
    >>> zero_net = lambda x_a: tf.zeros(x_a.shape[:-1] + (2 * 23,))
    >>> b = SplineCoupling(zero_net, mask="halves", event_shape=(4,), spline_bins=8)
    >>> x = tf.constant([[0.5, -1.0, 0.25, 7.0]])
    >>> [round(v, 5) for v in b.forward(x).numpy()[0].tolist()]  # zero parameters: the identity
    [0.5, -1.0, 0.25, 7.0]

    Args:
      parity: 0 or 1; 1 swaps the roles of the two parts.

    Raises:
      ValueError: `spline_bins` not an integer >= 2, `spline_bound <= 0`, a minimum bin size or slope out of range, an
        unknown mask, or a conditioner output of the wrong shape.
    """

    def __init__(
        self,
        conditioner: Callable[[tf.Tensor], tf.Tensor],
        mask: str | Mask = "channel",
        event_shape: Sequence[int] | None = None,
        parity: int = 0,
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        min_bin_size: float = DEFAULT_MIN_BIN_SIZE,
        min_slope: float = DEFAULT_MIN_SLOPE,
        validate_args: bool = False,
        name: str = "spline_coupling",
        conditional: bool = False,
    ):
        parameters = dict(locals())
        check_spline_knobs(spline_bins, spline_bound, "SplineCoupling")
        _checks.number("SplineCoupling", "min_bin_size", min_bin_size)
        _checks.number("SplineCoupling", "min_slope", min_slope)
        if not 0 < min_bin_size < 1.0 / spline_bins:
            raise ValueError(
                f"SplineCoupling: expected 0 < min_bin_size < 1/spline_bins = {1.0 / spline_bins:g}, got {min_bin_size!r}."
            )
        if not 0 < min_slope < 1:
            raise ValueError(f"SplineCoupling: expected 0 < min_slope < 1, got {min_slope!r}.")
        self._spline_bins = spline_bins
        self._spline_bound = float(spline_bound)
        self._min_bin_size = float(min_bin_size)
        self._min_slope = float(min_slope)
        super().__init__(
            conditioner,
            mask=mask,
            event_shape=event_shape,
            parity=parity,
            validate_args=validate_args,
            name=name,
            parameters=parameters,
            conditional=conditional,
        )

    @property
    def spline_bins(self) -> int:
        return self._spline_bins

    @property
    def spline_bound(self) -> float:
        return self._spline_bound

    @staticmethod
    def params_per_entry(spline_bins: int) -> int:
        """Conditioner outputs per transformed entry: K widths, K heights, K - 1 slopes."""
        return 3 * spline_bins - 1

    @property
    def param_event_shape(self):
        b_shape = self.mask.b_event_shape
        return b_shape[:-1] + (b_shape[-1] * self.params_per_entry(self._spline_bins),)

    def spline(self, params: tf.Tensor) -> tfb.RationalQuadraticSpline:
        """The elementwise `tfb.RationalQuadraticSpline` for conditioner output `params`."""
        k = self._spline_bins
        shape = tf.shape(params)
        per_entry = tf.reshape(params, tf.concat([shape[:-1], [-1, 3 * k - 1]], 0))
        raw_widths, raw_heights, raw_slopes = tf.split(per_entry, [k, k, k - 1], axis=-1)
        return spline_from_unnormalized(
            raw_widths, raw_heights, raw_slopes, self._spline_bound, self._min_bin_size, self._min_slope
        )

    def _flat(self, v_b, params):
        """Every transformed entry as one row: `[M]` values, `[M, 3K - 1]` parameters.

        The spline is elementwise, so any batch and event rank folds away; TensorFlow's
        softmax kernel takes at most 5 dimensions, which an image with two batch
        dimensions and a bin axis would exceed.
        """
        return tf.reshape(v_b, [-1]), tf.reshape(params, [-1, self.params_per_entry(self._spline_bins)])

    def _row_spline(self, params_flat):
        k = self._spline_bins
        raw_widths, raw_heights, raw_slopes = tf.split(params_flat, [k, k, k - 1], axis=-1)
        return spline_from_unnormalized(
            raw_widths, raw_heights, raw_slopes, self._spline_bound, self._min_bin_size, self._min_slope
        )

    def _couple(self, x_b, params):
        x_flat, params_flat = self._flat(x_b, params)
        spline = self._row_spline(params_flat)
        y_flat = spline.forward(x_flat)
        log_det = spline.forward_log_det_jacobian(x_flat, event_ndims=0)
        return tf.reshape(y_flat, tf.shape(x_b)), tf.reshape(log_det, tf.shape(x_b))

    def _uncouple(self, y_b, params):
        y_flat, params_flat = self._flat(y_b, params)
        spline = self._row_spline(params_flat)
        x_flat = spline.inverse(y_flat)
        # d x / d y = 1 / RQS'(x): evaluated at the x just found (TFP's own ildj does the same).
        log_det = -spline.forward_log_det_jacobian(x_flat, event_ndims=0)
        return tf.reshape(x_flat, tf.shape(y_b)), tf.reshape(log_det, tf.shape(y_b))


def check_spline_knobs(spline_bins, spline_bound, owner: str) -> None:
    """Raises `ValueError` unless `spline_bins` is an integer >= 2 and `spline_bound` a number > 0."""
    if isinstance(spline_bins, bool) or not isinstance(spline_bins, int) or spline_bins < 2:
        raise ValueError(f"{owner}: expected an integer spline_bins >= 2, got {spline_bins!r}.")
    if isinstance(spline_bound, bool) or not isinstance(spline_bound, (int, float)) or not spline_bound > 0:
        raise ValueError(f"{owner}: expected spline_bound > 0, got {spline_bound!r}.")


def spline_from_unnormalized(
    raw_widths: tf.Tensor,
    raw_heights: tf.Tensor,
    raw_slopes: tf.Tensor,
    bound: float,
    min_bin_size: float = DEFAULT_MIN_BIN_SIZE,
    min_slope: float = DEFAULT_MIN_SLOPE,
) -> tfb.RationalQuadraticSpline:
    """A `tfb.RationalQuadraticSpline` on `[-bound, bound]` from unconstrained parameters.

    `raw_widths`, `raw_heights`: `[..., K]`; `raw_slopes`: `[..., K - 1]`. Zeros give
    the identity map (see `SplineCoupling`).
    """
    num_bins = raw_widths.shape[-1]
    dtype = raw_widths.dtype

    def sizes(raw):
        fractions = min_bin_size + (1.0 - num_bins * min_bin_size) * tf.nn.softmax(raw, axis=-1)
        return tf.cast(2.0 * bound, dtype) * fractions

    offset = math.log(math.expm1(1.0 - min_slope))  # softplus(offset) = 1 - min_slope
    slopes = min_slope + tf.nn.softplus(raw_slopes + offset)
    return tfb.RationalQuadraticSpline(sizes(raw_widths), sizes(raw_heights), slopes, range_min=-bound)

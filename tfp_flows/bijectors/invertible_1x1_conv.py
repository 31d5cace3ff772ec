"""Glow's invertible 1x1 convolution (Kingma & Dhariwal 2018, section 3.2)."""
from __future__ import annotations

import numpy as np
import scipy.linalg
import tensorflow as tf
from tensorflow_probability.python.internal import parameter_properties

from tfp_flows import _checks
from tfp_flows.bijectors._base import SharedLogDetBijector, as_parameter, check_event_shape, maybe_check_finite, positions_of


class Invertible1x1Conv(SharedLogDetBijector):
    """A learned linear map `W` (C x C) applied to the channels of every position.

    Forward:  `y[..., i, j, :] = W @ x[..., i, j, :]`
    Inverse:  `x[..., i, j, :] = W^-1 @ y[..., i, j, :]`
    Log-det:  `P * log|det W|`, `P` positions per event (`H * W` for images).

    Two parametrisations:
      * LU (default in Glow): `W = P_perm @ L @ (U + diag(sign * exp(log_scale)))` with a
        fixed permutation `P_perm`, unit lower-triangular `L` (from the strictly lower part
        of `lower`), strictly upper `U` (from `upper`) and fixed signs. Then
        `log|det W| = sum(log_scale)`: no determinant is ever computed, and `W` stays
        invertible for every finite parameter value. `W^-1` comes from two triangular
        solves of the C x C factors, once per call.
      * plain: `W = matrix`. `log|det W| = sum(log|diag(R)|)` and `W^-1 = R^-1 Q^T` from one
        QR decomposition of `W` per call (QR has XLA and GPU kernels; `tf.linalg.slogdet`
        and `tf.linalg.lu` have no XLA kernel).

    Why not `tfb.ScaleMatvecLU`: it has no `log|s|` parametrisation and solves per vector
    (per pixel) in the inverse.

    Build the parameters with `Invertible1x1Conv.initial_lu(C)` (a random rotation, as
    openai/glow) and keep them in Keras weights.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import Invertible1x1Conv
    >>> conv = Invertible1x1Conv(**Invertible1x1Conv.initial_lu(3, seed=0))
    >>> x = tf.random.stateless_normal([2, 4, 4, 3], seed=[0, 1])
    >>> float(tf.reduce_max(tf.abs(conv.inverse(conv.forward(x)) - x))) < 1e-5
    True

    Args:
      matrix: the plain parametrisation, `W` of shape `[C, C]`.
      permutation, lower, upper, log_scale, sign: the LU parametrisation (all of them, no `matrix`);
        `Invertible1x1Conv.initial_lu(C, seed)` gives a random rotation's.
      event_ndims: 3 for images `(H, W, C)`, 2 for sequences `(T, C)`, 1 for vectors.

    Raises:
      ValueError: both or neither parametrisation, a non-square matrix, LU factors of mismatched shapes, or
        `event_ndims < 1`.
    """

    def __init__(
        self,
        matrix=None,
        *,
        permutation=None,
        lower=None,
        upper=None,
        log_scale=None,
        sign=None,
        event_ndims: int = 3,
        validate_args: bool = False,
        name: str = "invertible_1x1_conv",
    ):
        parameters = dict(locals())
        lu_parts = dict(permutation=permutation, lower=lower, upper=upper, log_scale=log_scale, sign=sign)
        given = [k for k, v in lu_parts.items() if v is not None]
        if matrix is None and len(given) != len(lu_parts):
            missing = sorted(set(lu_parts) - set(given))
            raise ValueError(
                "Invertible1x1Conv: pass either `matrix` (plain) or all of permutation, lower, upper, "
                f"log_scale, sign (LU); missing {missing}."
            )
        if matrix is not None and given:
            raise ValueError(f"Invertible1x1Conv: pass `matrix` or the LU factors, not both (got matrix and {given}).")
        _checks.integer("Invertible1x1Conv", "event_ndims", event_ndims)
        self._event_ndims = event_ndims
        self._is_lu = matrix is None
        with tf.name_scope(name):
            if self._is_lu:
                # Kept as given (tensors or variables) and read when used.
                self._log_scale = as_parameter(log_scale, "log_scale", owner="Invertible1x1Conv")
                dtype = self._log_scale.dtype
                self._lower = as_parameter(lower, "lower", dtype, owner="Invertible1x1Conv")
                self._upper = as_parameter(upper, "upper", dtype, owner="Invertible1x1Conv")
                self._sign = as_parameter(sign, "sign", dtype, owner="Invertible1x1Conv")
                self._permutation = as_parameter(permutation, "permutation", tf.int32, owner="Invertible1x1Conv")
                channels = self._log_scale.shape[-1]
                self._check_parts(channels)
            else:
                self._matrix = as_parameter(matrix, "matrix", owner="Invertible1x1Conv")
                dtype = self._matrix.dtype
                shape = self._matrix.shape
                if shape.rank != 2 or shape[0] != shape[1] or shape[0] == 0:
                    raise ValueError(f"Invertible1x1Conv: matrix must be square (C, C), got shape {shape}.")
                channels = shape[0]
        self._channels = channels
        super().__init__(
            forward_min_event_ndims=event_ndims,
            validate_args=validate_args,
            dtype=dtype,
            parameters=parameters,
            name=name,
        )

    def _check_parts(self, channels):
        expected = {
            "permutation": (channels,),
            "lower": (channels, channels),
            "upper": (channels, channels),
            "log_scale": (channels,),
            "sign": (channels,),
        }
        actual = {
            "permutation": self._permutation.shape,
            "lower": self._lower.shape,
            "upper": self._upper.shape,
            "log_scale": self._log_scale.shape,
            "sign": self._sign.shape,
        }
        for key, want in expected.items():
            if tuple(actual[key].as_list()) != want:
                raise ValueError(
                    f"Invertible1x1Conv: expected {key} of shape {want} for {channels} channels, "
                    f"got {tuple(actual[key].as_list())}."
                )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            matrix=parameter_properties.ParameterProperties(event_ndims=2),
            permutation=parameter_properties.ParameterProperties(event_ndims=1),
            lower=parameter_properties.ParameterProperties(event_ndims=2),
            upper=parameter_properties.ParameterProperties(event_ndims=2),
            log_scale=parameter_properties.ParameterProperties(event_ndims=1),
            sign=parameter_properties.ParameterProperties(event_ndims=1),
        )

    @staticmethod
    def initial_lu(channels: int, seed: int | None = None, dtype=np.float32) -> dict:
        """LU factors of a random rotation, as keyword arguments of the LU parametrisation.

        `permutation` and `sign` are fixed (not trained); `lower`, `upper` and `log_scale`
        are the trainable parts.
        """
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"Invertible1x1Conv.initial_lu: expected channels >= 1, got {channels!r}.")
        rotation = Invertible1x1Conv.initial_matrix(channels, seed, np.float64)
        perm_matrix, lower, upper = scipy.linalg.lu(rotation)  # rotation = P @ L @ U
        permutation = np.argmax(perm_matrix, axis=1)  # P = eye[permutation]
        diag = np.diag(upper)
        return dict(
            permutation=permutation.astype(np.int32),
            lower=np.tril(lower, -1).astype(dtype),
            upper=np.triu(upper, 1).astype(dtype),
            log_scale=np.log(np.abs(diag)).astype(dtype),
            sign=np.sign(diag).astype(dtype),
        )

    @staticmethod
    def initial_permutation_lu(channels: int, seed: int | None = None, dtype=np.float32) -> dict:
        """LU factors of a random permutation `P` (`L = I`, `U = I`), reproducible from `seed`.

        `W = P` at the start: the map only reorders the channels, and training makes it
        any invertible linear map (nflows' `RandomPermutation` followed by `LULinear`).
        """
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"Invertible1x1Conv.initial_permutation_lu: expected channels >= 1, got {channels!r}.")
        permutation = np.random.default_rng(seed).permutation(channels)
        return dict(
            permutation=permutation.astype(np.int32),
            lower=np.zeros((channels, channels), dtype), upper=np.zeros((channels, channels), dtype),
            log_scale=np.zeros((channels,), dtype), sign=np.ones((channels,), dtype),
        )

    @staticmethod
    def initial_matrix(channels: int, seed: int | None = None, dtype=np.float32) -> np.ndarray:
        """A random rotation (orthogonal, det = +-1), openai/glow's initial `W`."""
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((channels, channels)))
        return q.astype(dtype)

    @property
    def is_lu(self) -> bool:
        return self._is_lu

    @property
    def channels(self) -> int:
        return self._channels

    def weight(self) -> tf.Tensor:
        """The C x C matrix `W`."""
        return log_abs_det_and_matrix(self._read_parameters(), forward=True)[1]

    def _read_parameters(self) -> dict:
        """The parameters as tensors, read now: the LU factors (`lower`, `upper`, `log_scale`, `sign`,
        `permutation`) or the plain `matrix`."""
        if not self._is_lu:
            return dict(matrix=tf.convert_to_tensor(self._matrix))
        parts = dict(lower=self._lower, upper=self._upper, log_scale=self._log_scale, sign=self._sign, permutation=self._permutation)
        return {key: tf.convert_to_tensor(value) for key, value in parts.items()}

    def _log_abs_det_and_inverse_weight(self, need_inverse: bool):
        log_abs_det, matrix = log_abs_det_and_matrix(self._read_parameters(), forward=not need_inverse)
        return log_abs_det, (matrix if need_inverse else None)

    def _apply(self, x, forward: bool, what: str):
        """`(output, log-det)`, the log-det one scalar for every event (see `FusedBijector`)."""
        check_event_shape(x, [None] * (self._event_ndims - 1) + [self._channels], "Invertible1x1Conv", what)
        x = maybe_check_finite(x, self.validate_args, "Invertible1x1Conv", what)
        log_abs_det, matrix = log_abs_det_and_matrix(self._read_parameters(), forward)
        # out[..., c] = sum_k matrix[c, k] x[..., k]: one matmul over all positions.
        out = tf.tensordot(x, matrix, axes=[[-1], [1]])
        out.set_shape(x.shape)
        log_det = positions_of(x, self._event_ndims) * log_abs_det
        return out, (log_det if forward else -log_det)




def log_abs_det_and_matrix(parameters: dict, forward: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """`(log|det W|, W)` (`forward`) or `(log|det W|, W^-1)` from `Invertible1x1Conv` parameters.

    `parameters` holds the LU factors (`lower`, `upper` `[..., C, C]`; `log_scale`, `sign`,
    `permutation` `[..., C]`) or a plain `matrix` `[..., C, C]`; leading dims stack several
    convolutions, computed together.
    """
    if "matrix" in parameters:
        matrix = parameters["matrix"]
        q, r = tf.linalg.qr(matrix)
        log_abs_det = tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(r))), axis=-1)
        if forward:
            return log_abs_det, matrix
        # R^-1 Q^T with the transpose inside the matmul (no standalone transpose op).
        eye = np.eye(r.shape[-1], dtype=r.dtype.as_numpy_dtype)
        r_inverse = tf.linalg.triangular_solve(r, eye if r.shape.rank == 2 else tf.broadcast_to(eye, tf.shape(r)), lower=False)
        return log_abs_det, tf.matmul(r_inverse, q, transpose_b=True)
    log_scale, permutation = parameters["log_scale"], parameters["permutation"]
    log_abs_det = tf.reduce_sum(log_scale, axis=-1)
    # The masks are constants (numpy), not ops built on every call: `x * 1 = x`, `x * 0 = 0`.
    eye = np.eye(log_scale.shape[-1], dtype=log_scale.dtype.as_numpy_dtype)
    strictly_lower = np.tril(np.ones_like(eye), -1)
    lower = parameters["lower"] * strictly_lower + eye
    upper = parameters["upper"] * strictly_lower.T + tf.linalg.diag(parameters["sign"] * tf.exp(log_scale))
    if forward:
        if permutation.shape.rank == 1:  # P @ A with P = eye[permutation] is A's rows gathered: no matmul
            return log_abs_det, tf.gather(tf.matmul(lower, upper), permutation)
        # Stacked: a one-hot matmul, whose gradient is one more matmul (a batched gather's is dozens of ops).
        return log_abs_det, tf.matmul(tf.one_hot(permutation, eye.shape[0], dtype=lower.dtype), tf.matmul(lower, upper))
    # W^-1 = U^-1 L^-1 P^T with P^T[j, i] = (permutation[i] == j): a one-hot, not a transpose
    # (oneDNN's transpose of a small matrix costs more than the two solves on CPU).
    perm_t = tf.one_hot(permutation, eye.shape[0], axis=permutation.shape.rank - 1, dtype=lower.dtype)
    inverse = tf.linalg.triangular_solve(lower, perm_t, lower=True)
    return log_abs_det, tf.linalg.triangular_solve(upper, inverse, lower=False)

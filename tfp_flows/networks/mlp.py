"""NICE's coupling network: a ReLU MLP with a linear output."""
from __future__ import annotations

import keras
from keras import ops

from tfp_flows import _checks


@keras.saving.register_keras_serializable(package="tfp_flows")
class MLP(keras.layers.Layer):
    """`hidden_layers` x `hidden_units` ReLU layers, then a linear layer of `output_dim` units.

    `zero_init=True` zero-initialises the output layer so a coupling starts as the
    identity (additive) or as a fixed scaling (affine).

    `dropout=p > 0` drops each hidden unit with probability `p` when called with
    `training=True` (the flow models do so in `fit`'s training steps only; `log_prob`,
    `evaluate` and `sample` are deterministic), as Durkan et al. (2019) regularise their
    coupling networks on tables.

    `context_dim=C > 0` makes it a conditional conditioner: `call(x, conditional_input=c)`
    with `c` of shape `[N, C]` concatenated to the input (required).

    Args:
      output_dim: units of the output layer.
      hidden_units: units of each hidden layer.
      hidden_layers: the number of hidden layers (0: one linear layer).
      zero_init: zero-initialise the output layer.
      context_dim: `C`, the width of `conditional_input` (0: unconditional).

    Raises:
      ValueError: a non-positive `output_dim` or `hidden_units`, negative `hidden_layers` or `context_dim`;
        when called, a missing, unexpected or wrongly shaped `conditional_input`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import MLP
    >>> MLP(4, hidden_units=8, hidden_layers=2)(tf.zeros([3, 2])).shape
    TensorShape([3, 4])
    >>> MLP(4, 8, 1, context_dim=3)(tf.zeros([3, 2]), conditional_input=tf.zeros([3, 3])).shape
    TensorShape([3, 4])
    """

    def __init__(
        self, output_dim: int, hidden_units: int = 1000, hidden_layers: int = 5, zero_init: bool = False,
        context_dim: int = 0, dropout: float = 0.0, **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(context_dim, int) or context_dim < 0:
            raise ValueError(f"MLP: expected context_dim >= 0, got {context_dim!r}.")
        self.context_dim = context_dim
        for key, value in dict(output_dim=output_dim, hidden_units=hidden_units).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MLP: expected {key} >= 1, got {value!r}.")
        if isinstance(hidden_layers, bool) or not isinstance(hidden_layers, int) or hidden_layers < 0:
            raise ValueError(f"MLP: expected hidden_layers >= 0, got {hidden_layers!r}.")
        _checks.boolean("MLP", "zero_init", zero_init)
        self.output_dim, self.hidden_units, self.hidden_layers, self.zero_init = (
            output_dim, hidden_units, hidden_layers, zero_init,
        )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: expected 0 <= dropout < 1, got {dropout!r}.")
        self.dropout = float(dropout)
        self.hidden = [keras.layers.Dense(hidden_units, activation="relu", name=f"dense_{i}") for i in range(hidden_layers)]
        self.drops = [keras.layers.Dropout(self.dropout, name=f"dropout_{i}") for i in range(hidden_layers)] if self.dropout else []
        self.out = keras.layers.Dense(output_dim, kernel_initializer="zeros" if zero_init else "glorot_uniform", name="out")

    def build(self, input_shape):
        shape = tuple(input_shape)
        shape = shape[:-1] + (shape[-1] + self.context_dim,)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (self.hidden_units,)
        self.out.build(shape)
        self.built = True

    def call(self, x, conditional_input=None, training=None):
        x = _with_context(x, conditional_input, self.context_dim, "MLP")
        for i, layer in enumerate(self.hidden):
            x = layer(x)
            if self.drops:
                x = self.drops[i](x, training=training)
        return self.out(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            hidden_units=self.hidden_units,
            hidden_layers=self.hidden_layers,
            zero_init=self.zero_init,
            context_dim=self.context_dim,
            dropout=self.dropout,
        )
        return config


def _with_context(x, conditional_input, context_dim: int, owner: str):
    """`x` with the context `[N, C]` concatenated on its last axis (vectors)."""
    check_context(conditional_input, context_dim, owner)
    if not context_dim:
        return x
    return ops.concatenate([x, ops.cast(conditional_input, x.dtype)], axis=-1)


def check_context(conditional_input, context_dim: int, owner: str) -> None:
    """A clear error when a conditional network gets no context, or an unconditional one gets one."""
    if context_dim and conditional_input is None:
        raise ValueError(f"{owner}: built with context_dim={context_dim}; call it with conditional_input=c of shape [N, {context_dim}].")
    if not context_dim and conditional_input is not None:
        raise ValueError(f"{owner}: got conditional_input, but it was built without a context (context_dim=0).")
    if context_dim and conditional_input.shape[-1] is not None and conditional_input.shape[-1] != context_dim:
        raise ValueError(f"{owner}: expected conditional_input of width {context_dim} (context_dim={context_dim}), got shape {tuple(conditional_input.shape)}.")

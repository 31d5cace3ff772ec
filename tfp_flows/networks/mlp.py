"""NICE's coupling network: a ReLU MLP with a linear output."""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="tfp_flows")
class MLP(keras.layers.Layer):
    """`hidden_layers` x `hidden_units` ReLU layers, then a linear layer of `output_dim` units.

    `zero_init=True` zero-initialises the output layer so a coupling starts as the
    identity (additive) or as a fixed scaling (affine).
    """

    def __init__(self, output_dim: int, hidden_units: int = 1000, hidden_layers: int = 5, zero_init: bool = False, **kwargs):
        super().__init__(**kwargs)
        for key, value in dict(output_dim=output_dim, hidden_units=hidden_units).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MLP: expected {key} >= 1, got {value!r}.")
        if not isinstance(hidden_layers, int) or hidden_layers < 0:
            raise ValueError(f"MLP: expected hidden_layers >= 0, got {hidden_layers!r}.")
        self.output_dim, self.hidden_units, self.hidden_layers, self.zero_init = (
            output_dim, hidden_units, hidden_layers, zero_init,
        )
        self.hidden = [keras.layers.Dense(hidden_units, activation="relu", name=f"dense_{i}") for i in range(hidden_layers)]
        self.out = keras.layers.Dense(output_dim, kernel_initializer="zeros" if zero_init else "glorot_uniform", name="out")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (self.hidden_units,)
        self.out.build(shape)
        self.built = True

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            hidden_units=self.hidden_units,
            hidden_layers=self.hidden_layers,
            zero_init=self.zero_init,
        )
        return config

"""Evaluation, checkpoints and samples with an exponential moving average (EMA) of the weights.

openai/glow and Flow++ evaluate and sample with a Polyak average of the weights, not the
last step's: on small data the average is the better model (measured on digits in README).
The average itself is Keras' own (`keras.optimizers.Adam(..., use_ema=True,
ema_momentum=m)`: after every step `average = m * average + (1 - m) * weights`, the first
step copies); this callback decides which of the two the model holds when:

- training steps run on the trained weights;
- validation, every `on_epoch_end` callback listed after this one (checkpoints, sample
  grids) and the model after `fit` hold the average, while the optimizer's average slots
  hold the trained weights. A checkpoint saved then is therefore a model whose weights
  *are* the average (so `keras.saving.load_model`, `evaluate`, `sample` and `export` use
  it with no extra step) and whose optimizer keeps the trained weights, so training
  resumes exactly: pass `ema_in_model=True` when fitting a model loaded from such a
  checkpoint, and the callback swaps the two back before the first step.

>>> import keras
>>> from tfp_flows import models
>>> model = models.Glow.from_preset("tiny")
>>> model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
>>> callback = EMAWeights()  # model.fit(..., callbacks=[callback, checkpoint, sample_grid])
"""
from __future__ import annotations

import keras
import numpy as np

from tfp_flows import _checks


def uses_ema(optimizer) -> bool:
    """Whether `optimizer` (or the optimizer a `LossScaleOptimizer` wraps) keeps a weight average.

    Raises nothing: any object without `use_ema` has no average.

    >>> import keras
    >>> from tfp_flows.training import uses_ema
    >>> uses_ema(keras.optimizers.Adam(use_ema=True)), uses_ema(keras.optimizers.SGD())
    (True, False)
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return bool(getattr(optimizer, "use_ema", False))


class EMAWeights(keras.callbacks.SwapEMAWeights):
    """Keeps the EMA of the weights in the model outside training steps (see the module docstring).

    Args:
      ema_in_model: the model holds the average and the optimizer the trained weights when
        `fit` starts, as in a checkpoint written after an epoch with this callback.

    With an optimizer without `use_ema` the callback does nothing. List it before the
    callbacks that save or sample at the end of an epoch.

    Raises:
      ValueError: from Keras, when the model's optimizer was not built by the time the average is swapped.

    >>> import keras
    >>> from tfp_flows import models
    >>> from tfp_flows.training import EMAWeights
    >>> model = models.Glow.from_preset("tiny")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
    >>> EMAWeights().ema_in_model  # model.fit(..., callbacks=[EMAWeights(), checkpoint, sample_grid])
    False
    """

    def __init__(self, ema_in_model: bool = False):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = _checks.boolean("EMAWeights", "ema_in_model", ema_in_model)
        self._average = None  # the average's values while the model holds them, for `on_train_end`

    @property
    def ema_in_model(self) -> bool:
        """Whether the model holds the average now (and the optimizer's slots the trained weights)."""
        return self._ema_weights_in_model

    def _active(self) -> bool:
        optimizer = getattr(self.model, "optimizer", None)
        return optimizer is not None and uses_ema(optimizer) and optimizer.built

    def on_train_begin(self, logs=None):
        if self._ema_weights_in_model and self._active():
            self._swap_variables()  # resume from the trained weights, the average back in its slots
        self._ema_weights_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._active():
            super().on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self._active():
            return
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
        self._average = [np.array(v) for v in self.model.trainable_variables]

    def on_test_begin(self, logs=None):
        if self._active():
            super().on_test_begin(logs)

    def on_test_end(self, logs=None):
        pass  # keep the average for the end-of-epoch callbacks; `on_epoch_begin` swaps back

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        # `fit` ends with `optimizer.finalize_variable_values`, which copies the optimizer's slots into
        # the model: the trained weights while the average was swapped in. Put the average back, so the
        # model after `fit` equals the last checkpoint (average in the model, trained weights in the slots).
        if not self._active():
            return
        if self._ema_weights_in_model and self._average is not None:
            for variable, value in zip(self.model.trainable_variables, self._average):
                variable.assign(value)
        self._ema_weights_in_model = True
        self._average = None

"""A channel mask for sequences `(T, C)` whose length `T` is known only at run time."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.bijectors.masks import Mask


class SequenceChannelMask(Mask):
    """Splits the channels of a `(T, C)` event in halves, for any length `T`.

    `parity=0`: the first `C // 2` channels condition (`x_a`), the rest are transformed
    (`x_b`), NVIDIA WaveGlow's `audio_0` / `audio_1`; `parity=1` swaps the roles.

    Why not `make_mask("channel", (T, C))`: a `ChannelMask` needs a static event shape,
    and a waveform's length follows its mel (unknown in traced and exported functions).
    Its `event_shape` is `(None, C)`; `None` matches any length in the shape checks.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import SequenceChannelMask
    >>> a, b = SequenceChannelMask(4).split(tf.reshape(tf.range(8.0), [2, 4]))
    >>> a.numpy().tolist(), b.numpy().tolist()
    ([[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]])

    Raises:
      ValueError: `channels` not an integer >= 2, or `parity` not 0 or 1.
    """

    def __init__(self, channels: int, parity: int = 0):
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 2:
            raise ValueError(f"SequenceChannelMask: expected an integer channels >= 2, got {channels!r}.")
        if parity not in (0, 1):
            raise ValueError(f"SequenceChannelMask: expected parity 0 or 1, got {parity!r}.")
        self.event_shape = (None, channels)
        self.parity = parity
        first = channels // 2
        self._num_a = first if parity == 0 else channels - first

    @property
    def a_event_shape(self):
        return (None, self._num_a)

    @property
    def b_event_shape(self):
        return (None, self.event_shape[-1] - self._num_a)

    def split(self, x):
        if self.parity == 0:
            return x[..., : self._num_a], x[..., self._num_a :]
        num_b = self.event_shape[-1] - self._num_a
        return x[..., num_b:], x[..., :num_b]

    def merge(self, x_a, x_b):
        parts = [x_a, x_b] if self.parity == 0 else [x_b, x_a]
        return tf.concat(parts, axis=-1)

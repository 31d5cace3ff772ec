"""Jet (Kolesnikov et al. 2024): affine couplings with ViT conditioners on a patchified image, no multi-scale."""
from __future__ import annotations

import itertools
from typing import Sequence

import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_flows.bijectors import AffineCoupling, ChannelMask, Squeeze
from tfp_flows.bijectors.token_mask import TOKEN_PATTERNS, TokenMask
from tfp_flows.models.base import FlowModel
from tfp_flows.models.dequantization import DequantizationMixin
from tfp_flows.models.presets import PresetMixin
from tfp_flows.networks.vit import VisionTransformer

tfb = tfp.bijectors
KINDS = ("channels", "spatial")
SPATIAL_SPLITS = tuple(p + s for p in TOKEN_PATTERNS for s in ("", "-inv"))


@keras.saving.register_keras_serializable(package="tfp_flows")
class Jet(PresetMixin, DequantizationMixin, FlowModel):
    """Jet: `couplings` affine couplings over the patch tokens of an `(H, W, C)` image.

    Data-to-latent: (`2y - 1` for discrete data, Jet's [-1, 1] range) -> cut into
    `patch_size x patch_size` patches: tokens `(T, K)`, `T = (H/p)(W/p)`, `K = p*p*C` ->
    `couplings` affine couplings -> flatten. Coupling `i` is of kind `kinds[i % len(kinds)]`:

      * "channels": a fixed random half of the `K` features conditions the other half, on
        every token (a new random half for every other channel coupling, the complement of
        the previous one in between);
      * "spatial": half the tokens condition the other half, split by the next entry of
        `spatial_splits` ("checkerboard", "hstripes", "vstripes" over the patch grid,
        "-inv" swaps the halves).

    Each conditioner is a `VisionTransformer` (`block_depth` pre-norm blocks of width
    `emb_dim`, `num_heads` heads) over the conditioning tokens with a zero-initialised
    head giving shift and scale for the other half. Deviation from big_vision: the scale
    is `exp(2 tanh(h / 2))` (`AffineCoupling(scale_fn="soft_clamp")`) rather than
    `2 sigmoid(h)`; both are bounded and start at the identity.

    Args:
      event_shape: the image shape `(H, W, C)`, H and W divisible by `patch_size`.
      num_bins: the number of levels of the discrete data.

    Shapes: `log_prob(y)` takes `[..., H, W, C]` and returns `[...]`; `sample(n)` returns `[n, H, W, C]`.

    Raises:
      ValueError: a non-image event shape, non-positive sizes, unknown `kinds` or `spatial_splits`, an image
        not divisible into patches, or (from `FlowModel`) a bad `num_bins`, prior or dtype.

    >>> from tfp_flows import models
    >>> jet = models.Jet.from_preset("tiny")
    >>> jet.sample(2, seed=0).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (64, 64, 3),
        patch_size: int = 4,
        couplings: int = 32,
        block_depth: int = 2,
        emb_dim: int = 512,
        num_heads: int = 8,
        kinds: Sequence[str] = ("channels", "channels", "channels", "channels", "spatial"),
        spatial_splits: Sequence[str] = SPATIAL_SPLITS,
        num_bins: int | None = 256,
        **kwargs,
    ):
        super().__init__(event_shape, num_bins=num_bins, **kwargs)
        self._require_float32("Jet (its ViT conditioners and token masks)")
        if len(self.event_shape) != 3:
            raise ValueError(f"Jet: expected an image event shape (H, W, C), got {self.event_shape}.")
        for key, value in dict(patch_size=patch_size, couplings=couplings, emb_dim=emb_dim, num_heads=num_heads).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Jet: expected {key} >= 1, got {value!r}.")
        if isinstance(block_depth, bool) or not isinstance(block_depth, int) or block_depth < 0:
            raise ValueError(f"Jet: expected block_depth >= 0, got {block_depth!r}.")
        if isinstance(kinds, str) or not isinstance(kinds, (tuple, list)):
            raise ValueError(f"Jet: expected kinds as a sequence from {KINDS}, got {kinds!r}.")
        if isinstance(spatial_splits, str) or not isinstance(spatial_splits, (tuple, list)):
            raise ValueError(f"Jet: expected spatial_splits as a sequence from {SPATIAL_SPLITS}, got {spatial_splits!r}.")
        kinds, spatial_splits = tuple(kinds), tuple(spatial_splits)
        if not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"Jet: expected kinds from {KINDS}, got {kinds!r}.")
        if "spatial" in kinds and (not spatial_splits or any(s not in SPATIAL_SPLITS for s in spatial_splits)):
            raise ValueError(f"Jet: expected spatial_splits from {SPATIAL_SPLITS}, got {spatial_splits!r}.")
        height, width, channels = self.event_shape
        if height % patch_size or width % patch_size:
            raise ValueError(f"Jet: height and width must be divisible by patch_size {patch_size}; got {self.event_shape}.")
        self.patch_size, self.num_couplings, self.block_depth = patch_size, couplings, block_depth
        self.emb_dim, self.num_heads, self.kinds, self.spatial_splits = emb_dim, num_heads, kinds, spatial_splits
        self.grid = (height // patch_size, width // patch_size)
        self.token_shape = (self.grid[0] * self.grid[1], patch_size * patch_size * channels)
        if "channels" in kinds and self.token_shape[1] < 2:
            raise ValueError(f"Jet: channel couplings need >= 2 features per patch, got {self.token_shape[1]}; raise patch_size.")
        self.masks = list(self._schedule())
        self.nets = [
            VisionTransformer(2 * mask.b_event_shape[-1], emb_dim, block_depth, num_heads, name=f"coupling_{i}")
            for i, mask in enumerate(self.masks)
        ]
        self._build_all()

    def _schedule(self):
        """The mask of every coupling, in data-to-latent order."""
        splits = itertools.cycle(self.spatial_splits)
        features = self.token_shape[1]
        conditioning, channel_couplings = None, 0
        for i, kind in zip(range(self.num_couplings), itertools.cycle(self.kinds)):
            if kind == "channels":
                # Jet's "random" channel projection: a fixed random half, reproducible by index. Every
                # second channel coupling takes the complement of the one before, so both halves of
                # every random split get transformed (independent draws can repeat with few features).
                if channel_couplings % 2 == 0:
                    conditioning = np.zeros(features, bool)
                    conditioning[np.random.RandomState(i).permutation(features)[: features // 2]] = True
                else:
                    conditioning = ~conditioning
                channel_couplings += 1
                yield ChannelMask(self.token_shape, conditioning)
            else:
                split = next(splits)
                yield TokenMask(self.grid, features, split.removesuffix("-inv"), parity=int(split.endswith("-inv")))

    def _flow(self):
        steps = []
        if self.num_bins is not None:
            steps += [tfb.Shift(-0.5), tfb.Scale(2.0)]
        if self.patch_size > 1:
            steps.append(Squeeze(self.patch_size))
        grid_shape = self.grid + (self.token_shape[1],)
        steps.append(tfb.Reshape(event_shape_out=self.token_shape, event_shape_in=grid_shape))
        for mask, net in zip(self.masks, self.nets):
            steps.append(AffineCoupling(self._conditioner(net), mask, scale_fn="soft_clamp"))
        steps.append(tfb.Reshape(event_shape_out=(self.num_dims,), event_shape_in=self.token_shape))
        return tfb.Chain(steps[::-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            patch_size=self.patch_size, couplings=self.num_couplings, block_depth=self.block_depth, emb_dim=self.emb_dim,
            num_heads=self.num_heads, kinds=list(self.kinds), spatial_splits=list(self.spatial_splits),
        )
        return config

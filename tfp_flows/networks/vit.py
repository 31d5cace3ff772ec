"""A Vision Transformer conditioner (Dosovitskiy et al. 2021) for couplings, as Jet uses (Kolesnikov et al. 2024)."""
from __future__ import annotations

import keras
from keras import ops

from tfp_flows import _checks


@keras.saving.register_keras_serializable(package="tfp_flows")
class TransformerBlock(keras.layers.Layer):
    """Pre-norm block: `x + MHA(LN(x))`, then `x + MLP(LN(x))` (GELU MLP of `mlp_dim` units).

    Args:
      emb_dim: token width.
      num_heads: attention heads; must divide `emb_dim`.
      mlp_dim: hidden units of the GELU MLP.

    Raises:
      ValueError: `emb_dim` not divisible by `num_heads`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import TransformerBlock
    >>> TransformerBlock(emb_dim=8, num_heads=2, mlp_dim=16)(tf.ones([2, 5, 8])).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, emb_dim: int, num_heads: int, mlp_dim: int, **kwargs):
        super().__init__(**kwargs)
        for key, value in dict(emb_dim=emb_dim, num_heads=num_heads, mlp_dim=mlp_dim).items():
            _checks.integer("TransformerBlock", key, value)
        if emb_dim % num_heads:
            raise ValueError(f"TransformerBlock: emb_dim {emb_dim} must be divisible by num_heads {num_heads}.")
        self.emb_dim, self.num_heads, self.mlp_dim = emb_dim, num_heads, mlp_dim
        self.norm_attention = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_attention")
        self.attention = keras.layers.MultiHeadAttention(num_heads, emb_dim // num_heads, name="attention")
        self.norm_mlp = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_mlp")
        self.mlp_in = keras.layers.Dense(mlp_dim, activation="gelu", name="mlp_in")
        self.mlp_out = keras.layers.Dense(emb_dim, name="mlp_out")

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.norm_attention.build(shape)
        self.attention.build(shape, shape)
        self.norm_mlp.build(shape)
        self.mlp_in.build(shape)
        self.mlp_out.build(shape[:-1] + (self.mlp_dim,))
        self.built = True

    def call(self, x):
        h = self.norm_attention(x)
        x = x + self.attention(h, h)
        return x + self.mlp_out(self.mlp_in(self.norm_mlp(x)))

    def get_config(self):
        config = super().get_config()
        config.update(emb_dim=self.emb_dim, num_heads=self.num_heads, mlp_dim=self.mlp_dim)
        return config


@keras.saving.register_keras_serializable(package="tfp_flows")
class VisionTransformer(keras.layers.Layer):
    """ViT conditioner: tokens in, per-token (or per-pixel) coupling parameters out.

    Input either a token sequence `[N, T, F]` (`patch_size=1`; what Jet's couplings give
    it: the image is already patchified) or an image `[N, H, W, C]`, cut here into
    `patch_size x patch_size` patches (`H, W` divisible by it). Then:

      patch embedding (Dense to `emb_dim`) + learned position embedding
      -> `depth` pre-norm transformer blocks (`keras.layers.MultiHeadAttention`, GELU MLP)
      -> LayerNorm -> zero-initialised Dense head to `out_channels` per pixel
         (`patch_size**2 * out_channels` per token, put back in place for images)

    The zero head makes every coupling start at its identity (or fixed) map. The
    number of tokens is fixed by the first call (the position embedding is learned).

    Args:
      out_channels: output features per token (or per pixel with `patch_size > 1`).
      emb_dim: token width.
      depth: the number of transformer blocks.
      num_heads: attention heads; must divide `emb_dim`.
      mlp_dim: hidden units of each block's MLP (default `4 * emb_dim`).
      patch_size: `p > 1` takes images `[N, H, W, C]`, cut into `p x p` patches.

    Raises:
      ValueError: non-positive sizes, negative `depth`, `emb_dim` not divisible by `num_heads`, or an image
        not divisible into patches.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import VisionTransformer
    >>> VisionTransformer(out_channels=6, emb_dim=8, num_heads=2)(tf.ones([2, 16, 3])).shape
    TensorShape([2, 16, 6])
    """

    def __init__(
        self,
        out_channels: int,
        emb_dim: int = 256,
        depth: int = 1,
        num_heads: int = 4,
        mlp_dim: int | None = None,
        patch_size: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for key, value in dict(out_channels=out_channels, emb_dim=emb_dim, num_heads=num_heads, patch_size=patch_size).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VisionTransformer: expected {key} >= 1, got {value!r}.")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"VisionTransformer: expected depth >= 0, got {depth!r}.")
        if emb_dim % num_heads:
            raise ValueError(f"VisionTransformer: emb_dim {emb_dim} must be divisible by num_heads {num_heads}.")
        self.out_channels, self.emb_dim, self.depth, self.num_heads = out_channels, emb_dim, depth, num_heads
        self.mlp_dim = 4 * emb_dim if mlp_dim is None else _checks.integer("VisionTransformer", "mlp_dim", mlp_dim)
        self.patch_size = patch_size
        self.embed = keras.layers.Dense(emb_dim, name="patch_embedding")
        self.blocks = [TransformerBlock(emb_dim, num_heads, self.mlp_dim, name=f"block_{i}") for i in range(depth)]
        self.norm_out = keras.layers.LayerNormalization(epsilon=1e-6, name="norm_out")
        self.head = keras.layers.Dense(
            patch_size * patch_size * out_channels, kernel_initializer="zeros", name="head"
        )

    def _token_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) == 3:
            if self.patch_size != 1:
                raise ValueError(f"VisionTransformer: token inputs [N, T, F] need patch_size=1, got {self.patch_size}.")
            return shape[1], shape[2]
        if len(shape) == 4:
            _, height, width, channels = shape
            p = self.patch_size
            if height % p or width % p:
                raise ValueError(
                    f"VisionTransformer: image {height}x{width} is not divisible into {p}x{p} patches."
                )
            return (height // p) * (width // p), p * p * channels
        raise ValueError(f"VisionTransformer: expected input [N, T, F] or [N, H, W, C], got shape {shape}.")

    def build(self, input_shape):
        tokens, features = self._token_shape(input_shape)
        self.embed.build((None, tokens, features))
        self.position_embedding = self.add_weight(
            shape=(tokens, self.emb_dim),
            initializer=keras.initializers.RandomNormal(stddev=self.emb_dim ** -0.5),
            name="position_embedding",
        )
        for block in self.blocks:
            block.build((None, tokens, self.emb_dim))
        self.norm_out.build((None, tokens, self.emb_dim))
        self.head.build((None, tokens, self.emb_dim))
        self.built = True

    def call(self, x):
        image = len(x.shape) == 4
        if image:
            height, width = x.shape[1], x.shape[2]
            p = self.patch_size
            h, w = height // p, width // p
            x = ops.reshape(x, (-1, h, p, w, p, x.shape[3]))
            x = ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, h * w, p * p * x.shape[5]))
        tokens = self.embed(x) + ops.cast(self.position_embedding, self.compute_dtype)
        for block in self.blocks:
            tokens = block(tokens)
        out = self.head(self.norm_out(tokens))
        if image:
            out = ops.reshape(out, (-1, h, w, p, p, self.out_channels))
            out = ops.reshape(ops.transpose(out, (0, 1, 3, 2, 4, 5)), (-1, height, width, self.out_channels))
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            out_channels=self.out_channels, emb_dim=self.emb_dim, depth=self.depth, num_heads=self.num_heads,
            mlp_dim=self.mlp_dim, patch_size=self.patch_size,
        )
        return config

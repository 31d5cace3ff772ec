"""Published architectures (and small ones for tests and laptops), by model and name."""
from __future__ import annotations

PRESETS: dict[str, dict[str, dict]] = {
    "NICE": {
        # Dinh et al. 2014, MNIST: 4 couplings, 5 x 1000 ReLU, logistic prior.
        "mnist": dict(event_shape=(28, 28, 1), num_couplings=4, hidden_units=1000, hidden_layers=5, prior="logistic", num_bins=256),
        "tiny": dict(event_shape=(8, 8, 1), num_couplings=4, hidden_units=32, hidden_layers=2, prior="logistic", num_bins=17),
        "digits": dict(event_shape=(8, 8, 1), num_couplings=4, hidden_units=256, hidden_layers=3, prior="logistic", num_bins=17),
        # Tables (continuous vectors, standardised inside the flow); event_shape is set from the data.
        "tabular": dict(event_shape=(2,), num_couplings=6, hidden_units=128, hidden_layers=2, prior="normal", num_bins=None, standardize=True),
        "tabular_tiny": dict(event_shape=(2,), num_couplings=4, hidden_units=16, hidden_layers=1, prior="normal", num_bins=None, standardize=True),
    },
    "RealNVP": {
        # Dinh et al. 2016: 8 residual blocks, 64 feature maps on CIFAR-10.
        "cifar10": dict(event_shape=(32, 32, 3), num_scales=3, res_blocks=8, filters=64, num_bins=256),
        "celeba64": dict(event_shape=(64, 64, 3), num_scales=4, res_blocks=2, filters=32, num_bins=256),
        "mnist": dict(event_shape=(28, 28, 1), num_scales=3, res_blocks=4, filters=32, num_bins=256),
        "tiny": dict(event_shape=(8, 8, 1), num_scales=2, res_blocks=1, filters=8, num_bins=17),
        # Spline couplings: 1.853 test bits/dim after the default 30 epochs against 2.021 affine (README).
        "digits": dict(event_shape=(8, 8, 1), num_scales=2, res_blocks=2, filters=32, num_bins=17, coupling="spline"),
        # Tables: affine couplings over standardised vectors, a learned linear mixing (starting as a random
        # permutation) before each coupling and dropout 0.2 in the 2 x 128 conditioners (README: tables against zuko).
        "tabular": dict(event_shape=(2,), num_couplings=8, filters=128, hidden_layers=2, num_bins=None, standardize=True,
                        permutation="linear", dropout=0.2),
        "tabular_tiny": dict(event_shape=(2,), num_couplings=4, filters=16, hidden_layers=1, num_bins=None, standardize=True,
                             permutation="linear", dropout=0.2),
    },
    "Glow": {
        # Kingma & Dhariwal 2018, table 4: CIFAR-10 L=3, K=32, 512 channels, affine, 1x1 conv.
        "cifar10": dict(event_shape=(32, 32, 3), levels=3, steps=32, hidden_channels=512, coupling="affine", permutation="conv1x1", num_bins=256),
        "imagenet32": dict(event_shape=(32, 32, 3), levels=3, steps=48, hidden_channels=512, coupling="affine", permutation="conv1x1", num_bins=256),
        "celeba64": dict(event_shape=(64, 64, 3), levels=4, steps=32, hidden_channels=512, coupling="affine", permutation="conv1x1", num_bins=32),
        "mnist": dict(event_shape=(28, 28, 1), levels=2, steps=32, hidden_channels=512, coupling="affine", permutation="conv1x1", num_bins=256),
        "tiny": dict(event_shape=(8, 8, 1), levels=2, steps=2, hidden_channels=8, coupling="affine", permutation="conv1x1", num_bins=17),
        # Logit preprocessing for the digits' many exact zeros (2.26 against 2.72 test bits/dim after 40 epochs).
        "digits": dict(event_shape=(8, 8, 1), levels=2, steps=8, hidden_channels=128, coupling="affine", permutation="conv1x1", num_bins=17, preprocessing="logit"),
    },
    "Jet": {
        # Kolesnikov et al. 2024 / big_vision jet/imagenet64.py: 3.72 bits/dim (200 epochs, TPU); GPU-sized.
        "imagenet64": dict(
            event_shape=(64, 64, 3), patch_size=4, couplings=32, block_depth=2, emb_dim=512, num_heads=8,
            kinds=("channels",) * 4 + ("spatial",), num_bins=256,
        ),
        "tiny": dict(event_shape=(8, 8, 1), patch_size=2, couplings=3, block_depth=1, emb_dim=16, num_heads=2,
                     kinds=("channels", "channels", "spatial"), num_bins=17),
        "digits": dict(event_shape=(8, 8, 1), patch_size=2, couplings=8, block_depth=1, emb_dim=64, num_heads=4,
                       kinds=("channels", "channels", "spatial"), num_bins=17),
    },
    "WaveGlow": {
        # NVIDIA/waveglow config.json (LJ Speech, 22050 Hz): 12 flows, groups of 8, 2 early channels every
        # 4 flows, WN 8 layers x 256 channels with kernel 3, sigma 1.0 (training) / 0.6 (inference), Adam 1e-4.
        "ljspeech": dict(
            n_mels=80, n_flows=12, n_group=8, n_early_every=4, n_early_size=2, wn_layers=8, wn_channels=256,
            wn_kernel_size=3, hop_length=256, upsample_kernel=1024, segment_length=16000, sigma=1.0,
            inference_sigma=0.6, learning_rate=1e-4, sample_rate=22050, n_fft=1024, win_length=1024, fmax=8000.0,
        ),
        # Trains on a 2-core CPU in minutes and vocodes faster than real time there. Its mel upsampler starts by
        # repeating each frame over its hop (NVIDIA's starts random): the conditioning is useful from step 0.
        "small": dict(
            n_mels=80, n_flows=4, n_group=8, n_early_every=2, n_early_size=2, wn_layers=4, wn_channels=32,
            wn_kernel_size=3, hop_length=256, upsample_kernel=1024, segment_length=4096, sigma=1.0,
            inference_sigma=0.6, learning_rate=1e-3, sample_rate=22050, n_fft=1024, win_length=1024, fmax=8000.0,
            upsample_init="repeat",
        ),
        # Unit tests.
        "tiny": dict(
            n_mels=8, n_flows=2, n_group=4, n_early_every=1, n_early_size=2, wn_layers=2, wn_channels=8,
            wn_kernel_size=3, hop_length=16, upsample_kernel=64, segment_length=256, sigma=1.0,
            inference_sigma=0.6, learning_rate=1e-3, sample_rate=8000, n_fft=64, win_length=64, fmax=4000.0,
        ),
    },
}


class PresetMixin:
    """`Model.from_preset(name, **overrides)` and `Model.presets()`."""

    @classmethod
    def presets(cls) -> dict[str, dict]:
        return {name: dict(config) for name, config in PRESETS[cls.__name__].items()}

    @classmethod
    def from_preset(cls, name: str, **overrides):
        """Builds the named architecture; keyword arguments override single settings."""
        presets = PRESETS[cls.__name__]
        if name not in presets:
            raise ValueError(f"{cls.__name__}: unknown preset {name!r}; expected one of {sorted(presets)}.")
        return cls(**{**presets[name], **overrides})

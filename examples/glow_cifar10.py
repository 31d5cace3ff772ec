"""Glow on CIFAR-10 as in Kingma & Dhariwal 2018 (L=3, K=32, 512 channels, affine coupling, 1x1 conv); the paper
reports 3.35 bits/dim. Run: python examples/glow_cifar10.py --data-dir DIR"""
from _paper import run
from tfp_flows.models import Glow


def main(argv=None):
    return run(Glow, "cifar10", "cifar10", batch_size=64, learning_rate=1e-3, warmup_steps=5000, flip=True, argv=argv)


if __name__ == "__main__":
    main()

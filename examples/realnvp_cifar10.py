"""RealNVP on CIFAR-10 as in Dinh et al. 2016 (8 residual blocks, 64 filters, multi-scale); the paper reports
3.49 bits/dim. Run: python examples/realnvp_cifar10.py --data-dir DIR"""
from _paper import run
from tfp_flows.models import RealNVP


def main(argv=None):
    return run(RealNVP, "cifar10", "cifar10", batch_size=64, learning_rate=1e-3, warmup_steps=1000, flip=True, argv=argv)


if __name__ == "__main__":
    main()

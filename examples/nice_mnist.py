"""NICE on MNIST as in Dinh et al. 2014 (4 couplings of 5 x 1000 ReLU, logistic prior); the paper reports 1980.50 nats
log-likelihood (continuous, [0,1] data). Run: python examples/nice_mnist.py --data-dir DIR"""
from _paper import run
from tfp_flows.models import NICE


def main(argv=None):
    return run(NICE, "mnist", "mnist", batch_size=64, learning_rate=1e-3, warmup_steps=500, flip=False, argv=argv)


if __name__ == "__main__":
    main()

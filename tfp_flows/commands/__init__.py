"""The work behind each `tfp-flows` subcommand (imported lazily by `cli.py`: it loads TensorFlow).

One function per subcommand, `name(args) -> exit code`; errors a user can fix are the
`USER_ERRORS` and are printed as one line (TensorFlow's without its internals: `tfp_flows._messages`).
"""
import tensorflow as tf

from tfp_flows import data
from tfp_flows.commands.evaluation import evaluate, score
from tfp_flows.commands.exporting import export
from tfp_flows.commands.sampling import sample
from tfp_flows.commands.train import build_model, train
from tfp_flows.training import RunError

# OSError: existing export, permissions, disk; TensorFlow's errors are printed by `_messages.in_words`.
USER_ERRORS = (ValueError, RunError, data.DatasetUnavailableError, OSError, tf.errors.OpError)


def vocode(args) -> int:
    """`tfp-flows vocode`: speech from a WAV's mel (or a mel .npy) with a trained WaveGlow."""
    from tfp_flows.commands import speech

    return speech.vocode(args)

def import_waveglow(args) -> int:
    """`tfp-flows import-waveglow`: an NVIDIA WaveGlow checkpoint as a run directory (no PyTorch)."""
    from tfp_flows.commands import importing

    return importing.import_waveglow(args)


__all__ = ["USER_ERRORS", "build_model", "evaluate", "export", "import_waveglow", "sample", "score", "train", "vocode"]

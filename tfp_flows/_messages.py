"""TensorFlow's error messages without TensorFlow's internals (no TensorFlow import: plain text work).

A `tf.errors.OpError` says what went wrong in one phrase buried in node names, device
paths and graph tracebacks:

    {{function_node __wrapped__DecodeImage_device_/job:localhost/replica:0/task:0/device:CPU:0}} Invalid PNG data, size 511 [Op:DecodeImage] name:

`reason(error)` keeps the phrase ("Invalid PNG data, size 511"); the callers add the file
and the fix.

>>> reason(ValueError("{{function_node __wrapped__X_device_/job:localhost}} Bad data [Op:X] name: "))
'Bad data'
"""
from __future__ import annotations

import re

_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}")
_NODE = re.compile(r"\[\[\{\{node [^}]*\}\}\]\]|\{\{node [^}]*\}\}")
_OP = re.compile(r"\[Op:[^\]]*\]( name:.*)?$")
_TRACE = re.compile(r"^\s*(File \"|Detected at node|Graph execution error|Traceback|\[\[)")
_DEVICE = re.compile(r" on /job:\S+| by allocator \w+")
_ASSERTION = re.compile(r"^assertion failed: \[(.*?)\]( \[.*)?$")  # tf.debugging.assert_*: our message comes first

# What to do about each kind of TensorFlow error, by class name (no TensorFlow import here).
ADVICE = {
    "ResourceExhaustedError": "the machine ran out of memory: use a smaller --batch-size (or a smaller --preset)",
    "PermissionDeniedError": "permission denied: check that you may write to the output folder",
    "NotFoundError": "a file or folder it needs does not exist: check the paths given",
    "AlreadyExistsError": "the output already exists: choose another path",
    "FailedPreconditionError": "a file or folder is not in the state it needs (a file where a folder is expected?)",
    "DataLossError": "a file is truncated or corrupt: write it again",
}


def reason(error: BaseException) -> str:
    """The first line of TensorFlow's message that says something, without node names, devices and tracebacks."""
    text = str(getattr(error, "message", None) or error)
    lines = []
    for line in text.splitlines():
        line = _DEVICE.sub("", _OP.sub("", _NODE.sub("", _FUNCTION_NODE.sub("", line)))).strip()
        if line and not _TRACE.match(line):
            lines.append(_ASSERTION.sub(r"\1", line))
    return lines[0].rstrip(".") if lines else type(error).__name__


def in_words(error: BaseException) -> str:
    """A TensorFlow error as one line of ours: the reason, then what to do; other errors as they are."""
    names = {cls.__name__ for cls in type(error).__mro__}
    if "OpError" not in names:
        return str(error)
    advice = next((ADVICE[name] for name in ADVICE if name in names), None)
    what = reason(error)
    return f"{advice} ({what})." if advice else f"{what}."

"""Import TensorFlow without its native start-up chatter on stderr (absl, oneDNN, CUDA and CPU-feature lines)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

#: Set to 1 to see TensorFlow's own log lines again (the CLIs' --verbose sets it too).
VERBOSE_ENV = "WDBC_TF_LOGS"


def import_tensorflow() -> ModuleType:
    """TensorFlow, with the lines its C++ runtime prints while loading and finding devices swallowed.

    Those lines are written by native code straight to file descriptor 2 (TF_CPP_MIN_LOG_LEVEL does not reach
    the ones printed before absl's logging starts), so the descriptor itself is pointed elsewhere for that
    moment; anything printed then is replayed if the import fails. Numerics are untouched (oneDNN stays on).
    """
    if os.environ.get(VERBOSE_ENV) == "1":
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later C++ info and warnings from ops
    with _native_stderr_swallowed():
        import tensorflow as tf

        tf.config.list_physical_devices()  # CUDA is probed here: 'failed call to cuInit' on CPU-only machines
    tf.get_logger().setLevel(logging.ERROR)
    return tf


@contextlib.contextmanager
def _native_stderr_swallowed() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.buffer.write(sink.read())  # the import failed: what it printed may say why
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)

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
#: What TensorFlow imports eagerly but loading and calling a SavedModel of tf.Modules never uses: Keras, which
#: brings matplotlib and scikit-learn along (about half of ``import tensorflow``).
NOT_FOR_SAVED_MODELS = ("keras", "tf_keras")


def import_tensorflow(lean: bool = False) -> ModuleType:
    """TensorFlow, with the lines its C++ runtime prints while loading and finding devices swallowed.

    Those lines are written by native code straight to file descriptor 2 (TF_CPP_MIN_LOG_LEVEL does not reach
    the ones printed before absl's logging starts), so the descriptor itself is pointed elsewhere for that
    moment; anything printed then is replayed if the import fails. Numerics are untouched (oneDNN stays on).

    ``lean=True`` (for loading a SavedModel) keeps Keras out of the import; ``tf.keras`` still loads it on first
    use. It changes nothing once TensorFlow is imported.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _blocked(NOT_FOR_SAVED_MODELS if lean else ()):
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
def _blocked(names: tuple[str, ...]) -> Iterator[None]:
    """Inside, ``import NAME`` raises ImportError for these packages (TensorFlow skips Keras when it does);
    afterwards they import as usual. Packages already imported are left alone."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not importable" marker
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


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

"""Errors raised by the export package."""

from __future__ import annotations


class ExportError(RuntimeError):
    """An artifact could not be written or failed its own checks (graph, inputs, outputs, ops)."""


class ParityError(ExportError):
    """The SavedModel and the ONNX model disagree beyond the tolerances."""

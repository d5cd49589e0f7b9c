"""The export's metadata: one frozen dataclass owns every key; written once at export, read and checked once at load."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from contract.errors import ModelError
from contract.numbers import DECIMALS
from contract.text import capped, cut

#: Written into both artifacts' metadata; a loader refuses any other. It names the consumer's contract (the input,
#: the named outputs, the threshold in the graph, these keys), which every model family keeps: the name is from
#: when logistic regression was the only family, and an MLP's export is the same format (``family`` says which
#: model it is), so scorers already deployed read it unchanged. A change a reader must know about gets a new name.
#: 3: the export folder's manifest.json lists every file of the export (the SavedModel's assets included), and the
#: loader checks it.
EXPORT_FORMAT = "logreg-export/3"
#: The formats of earlier exports, which had no manifest yet (the export's ``--out`` may replace one).
EARLIER_FORMATS = ("logreg-export/1", "logreg-export/2")
#: What an export from before there were families is: logistic regression, one layer from the features to the logit.
LEGACY_FAMILY = "logreg"
#: The one input and the outputs, by name (an artifact's output order means nothing: tf2onnx sorts them).
INPUT_NAME = "features"
INPUT_DTYPE = "float32"
#: Each output's dtype; every output holds one value per input row (shape ``[batch]``).
OUTPUT_DTYPES = {"probability": "float32", "logit": "float32", "label": "int64"}
OUTPUT_NAMES = tuple(OUTPUT_DTYPES)
#: Marks the fields that both artifacts of one export must carry with the same value.
_SHARED = {"shared": True}


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """Every fact an artifact carries, in its on-disk order (JSON in the SavedModel's assets, ONNX metadata_props).

    ``saved_model_sha256`` is set only in the ONNX file's copy and ``onnx_sha256`` only in the SavedModel's: each
    artifact names the other's hash, so neither can be swapped alone.
    """

    format: str = field(default=EXPORT_FORMAT, metadata=_SHARED)
    feature_names: list[str] = field(metadata=_SHARED)
    n_features: int | None = None
    feature_aliases: dict[str, list[str]] = field(default_factory=dict)
    input_name: str = INPUT_NAME
    output_names: list[str] = field(default_factory=lambda: list(OUTPUT_NAMES))
    threshold: float = field(metadata=_SHARED)
    label_column: str | None = field(default=None, metadata=_SHARED)
    positive_class: Any = field(default=1, metadata=_SHARED)
    negative_class: Any = field(default=0, metadata=_SHARED)
    label_meaning: dict[str, str] | None = None
    positive_label: int = 1
    #: The columns that identified rows at training time (never features): the scorer passes them through.
    id_columns: list[str] = field(default_factory=list)
    #: How the training table spelled a missing value and its decimal mark; the scorer reads values the same way.
    #: An export made before they were recorded reads as the scorer did then: only an empty field is missing.
    na_values: list[str] = field(default_factory=list, metadata=_SHARED)
    decimal: str = field(default=".", metadata=_SHARED)
    metrics: dict[str, Any] | None = None
    data_fingerprint_sha256: str | None = field(default=None, metadata=_SHARED)
    training_config: dict[str, Any] | None = None
    opset: int | None = None
    versions: dict[str, str] | None = None
    exported_at: str | None = field(default=None, metadata=_SHARED)
    #: The model family (``python -m model.train --model``) and its shape: the width of every layer from the input
    #: to the one logit, and the activation between hidden layers (None without any). For people and tools that
    #: describe the model; nothing that scores reads them. After the keys format 2 always had, in their order; an
    #: export from before families has none of the three and reads as logistic regression (``from_dict``).
    family: str = field(default=LEGACY_FAMILY, metadata=_SHARED)
    layer_widths: list[int] | None = field(default=None, metadata=_SHARED)
    activation: str | None = field(default=None, metadata=_SHARED)
    saved_model_sha256: str | None = None
    onnx_sha256: str | None = None

    # ------------------------------------------------------------------------------------------ writing

    def as_dict(self) -> dict[str, Any]:
        """The JSON object written to disk (a hash this copy does not carry is left out)."""
        out = asdict(self)
        for key in ("saved_model_sha256", "onnx_sha256"):
            if out[key] is None:
                del out[key]
        return out

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def as_onnx_props(self) -> dict[str, str]:
        """ONNX metadata_props are strings: strings stay as they are, everything else is JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.as_dict().items()}

    def naming(self, *, saved_model_sha256: str | None = None, onnx_sha256: str | None = None) -> Metadata:
        """This metadata as one artifact's copy: naming its sibling's hash."""
        return replace(self, saved_model_sha256=saved_model_sha256, onnx_sha256=onnx_sha256)

    # ------------------------------------------------------------------------------------------ reading

    @classmethod
    def from_dict(cls, meta: object, width: int | None, path: Path) -> Metadata:
        """Check ``meta`` (format, unique feature names matching the graph's ``width``, a numeric threshold) and read
        it; unknown keys are ignored, so a newer writer's additions do not break an older reader."""
        if not isinstance(meta, Mapping):
            raise ModelError(f"Expected the metadata of {path} to be a JSON object, got {type(meta).__name__}.")
        if meta.get("format") != EXPORT_FORMAT:
            raise ModelError(f"Expected an artifact of format {EXPORT_FORMAT!r} in {path}'s metadata, got "
                             f"{meta.get('format')!r}; was it made by this version of `python -m export`? "
                             "Re-export it.")
        names = _feature_names(meta.get("feature_names"), width, path)
        threshold = read_threshold(meta.get("threshold"), f"{path}'s metadata")
        aliases = meta.get("feature_aliases") or {}
        _check_kinds(meta, path)
        known = {f.name for f in fields(cls)} - {"feature_names", "threshold", "feature_aliases"}
        return cls(feature_names=names, threshold=threshold,
                   feature_aliases=aliases if isinstance(aliases, dict) else {},
                   **{**_legacy_shape(meta, names), **{k: v for k, v in meta.items() if k in known}})


def read_threshold(value: object, where: str) -> float:
    """A threshold as a float, finite and in [0, 1] (NaN passed every comparison; 2.0 labelled no row positive)."""
    try:
        threshold = float(value) if not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit integer in JSON
        threshold = math.nan
    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ModelError(f"Expected the threshold in {where} to be a number in [0, 1], got {cut(repr(value), 40)}. The "
                         "artifact is damaged: re-export it.")
    return threshold


def format_of(meta: object) -> object:
    """The export format that raw metadata names (None when it is not a mapping), before it is read as ``Metadata``."""
    return meta.get("format") if isinstance(meta, Mapping) else None


def decode_onnx_props(props: Mapping[str, str]) -> dict[str, Any]:
    """The inverse of ``Metadata.as_onnx_props``: JSON-encoded values are decoded, plain strings kept."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) for s in value)


def _widths(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= 2 and all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in value)


#: The optional keys a reader acts on, each with what it must be: how to read values (the scorer applies them) and
#: the model's family and shape (a description shows them).
_KINDS = (
    ("na_values", _strings, "a list of strings"),
    ("id_columns", _strings, "a list of strings"),
    ("decimal", lambda v: v in DECIMALS, f"one of {list(DECIMALS)}"),
    ("family", lambda v: isinstance(v, str), "a name"),
    ("layer_widths", lambda v: v is None or _widths(v), "a list of widths >= 1"),
    ("activation", lambda v: v is None or isinstance(v, str), "a name or null"),
)


def _check_kinds(meta: Mapping[str, Any], path: Path) -> None:
    """The optional keys, where present, must be in a form their readers can use."""
    for key, ok, expected in _KINDS:
        if key in meta and not ok(meta[key]):
            raise ModelError(f"Expected {key!r} in {path}'s metadata to be {expected}, got {meta[key]!r}. The artifact "
                             "is damaged: re-export it.")


def _legacy_shape(meta: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """An export from before families records no family: it is logistic regression, one layer to the logit."""
    return {} if "family" in meta else {"layer_widths": [len(names), 1]}


def _feature_names(names: object, width: int | None, path: Path) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelError(f"Expected 'feature_names' to be a list of column names in {path}'s metadata, got "
                         f"{cut(repr(names), 80)}.")
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)  # one pass: 100,000 names are fine
    if duplicates:
        raise ModelError(f"The metadata of {path} names the feature(s) {capped(duplicates)} more than once "
                         f"({len(duplicates)} in all); feature names must be unique. The artifact is damaged: re-export "
                         "it.")
    if width is not None and width != len(names):
        raise ModelError(f"The model at {path} takes {width} features, but its metadata names {len(names)}; "
                         "the artifact is inconsistent. Re-export it.")
    return list(names)


#: The keys that restate the graph's own signature (its input, outputs and width): a report shows the graph instead.
SIGNATURE_KEYS = ("n_features", "input_name", "output_names", "positive_label")
#: The keys both artifacts of one export must agree on.
SHARED_KEYS = tuple(f.name for f in fields(Metadata) if f.metadata.get("shared"))


def shared_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The shared keys on which two artifacts' raw metadata differ."""
    return [key for key in SHARED_KEYS if a.get(key) != b.get(key)]


@dataclass(frozen=True, kw_only=True)
class Hashes:
    """The SHA-256 of each artifact of one export, under the names the metadata gives them."""

    onnx_sha256: str | None = None
    saved_model_sha256: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The known hashes, by metadata key (inspect's JSON, the parity report)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def sibling_hashes(onnx_meta: Mapping[str, Any], sidecar: Mapping[str, Any]) -> Hashes:
    """What each artifact says its sibling's SHA-256 is: the SavedModel's, per the ONNX file; the ONNX file's,
    per the SavedModel."""
    return Hashes(saved_model_sha256=onnx_meta.get("saved_model_sha256"), onnx_sha256=sidecar.get("onnx_sha256"))

"""Which model family a run trains and its shape (light: the CLI's --help and its checks need no TF)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.errors import ConfigError

#: The model families, by ``--model`` name; the first is the default (the tutorial's logistic regression).
FAMILIES = ("logreg", "mlp")
#: The hidden layers' nonlinearity, by ``--activation`` name.
ACTIVATIONS = ("relu", "tanh")
#: The MLP's hidden layer widths when ``--hidden`` is not given.
DEFAULT_HIDDEN = (32, 16)
DEFAULT_ACTIVATION = "relu"


@dataclass(frozen=True)
class ModelSpec:
    """A family and its shape: logistic regression has no hidden layers; an MLP has ``hidden`` widths and an
    ``activation`` between them (its output layer is one linear logit, like logistic regression's)."""

    family: str = FAMILIES[0]
    hidden: tuple[int, ...] = ()
    activation: str | None = None

    @classmethod
    def of(cls, family: str, hidden: tuple[int, ...] | None = None, activation: str | None = None) -> ModelSpec:
        """What ``--model``, ``--hidden`` and ``--activation`` ask for: the family's defaults where they are None.

        Raises ConfigError for an unknown family or activation, a width below 1, or a shape option given to a
        family that has no such thing (logistic regression with ``--hidden``): the user expected another model.
        """
        if family not in FAMILIES:
            raise ConfigError(f"--model must be one of {', '.join(map(repr, FAMILIES))}, got {family!r}.")
        if family != "mlp":
            given = [flag for flag, value in (("--hidden", hidden), ("--activation", activation)) if value is not None]
            if given:
                raise ConfigError(f"{' and '.join(given)} shape an MLP; --model {family} has no hidden layers. "
                                  f"Pass --model mlp, or leave out {' and '.join(given)}.")
            return cls(family)
        spec = cls(family, DEFAULT_HIDDEN if hidden is None else tuple(hidden), activation or DEFAULT_ACTIVATION)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise ConfigError naming the option that is out of range."""
        if self.family not in FAMILIES:
            raise ConfigError(f"--model must be one of {', '.join(map(repr, FAMILIES))}, got {self.family!r}.")
        if self.family != "mlp" and (self.hidden or self.activation is not None):
            raise ConfigError(f"--model {self.family} has no hidden layers, got --hidden "
                              f"{','.join(map(str, self.hidden)) or 'none'} and --activation {self.activation}.")
        if self.family == "mlp":
            if not self.hidden or any(width < 1 for width in self.hidden):
                raise ConfigError(f"--hidden must be one or more positive layer widths such as 32,16, got "
                                  f"{','.join(map(str, self.hidden)) or 'none'}.")
            if self.activation not in ACTIVATIONS:
                raise ConfigError(f"--activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got "
                                  f"{self.activation!r}.")

    def layer_widths(self, n_features: int) -> list[int]:
        """The width of every layer, from the input to the one logit."""
        return [n_features, *self.hidden, 1]

    def architecture(self, n_features: int) -> dict[str, Any]:
        """The shape as the report and model.json record it (the export's metadata has the same two facts): the
        layer widths and the activation between hidden layers (None without any)."""
        return {"layer_widths": self.layer_widths(n_features), "activation": self.activation}

    def describe(self, n_features: int) -> str:
        """``logreg``, or ``mlp 30-32-16-1 relu``: the family and, where it has hidden layers, its shape."""
        if not self.hidden:
            return self.family
        return f"{self.family} {'-'.join(map(str, self.layer_widths(n_features)))} {self.activation}"

    @classmethod
    def from_architecture(cls, family: str, architecture: Mapping[str, Any] | None) -> ModelSpec:
        """The spec that ``architecture`` (as ``architecture()`` wrote it) describes; None is logistic regression's
        shape, as runs from before there were families recorded none."""
        widths = list((architecture or {}).get("layer_widths") or [0, 1])
        spec = cls(family, tuple(int(w) for w in widths[1:-1]), (architecture or {}).get("activation"))
        spec.validate()
        return spec


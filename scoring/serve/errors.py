"""The refusal of a request: its HTTP status, and the JSON body each protocol's clients read."""

from __future__ import annotations

from scoring.errors import ScoringError

#: MLflow's error codes (its scoring server answers ``{"error_code": ..., "message": ...}``).
MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST", 405: "BAD_REQUEST",
                408: "BAD_REQUEST", 413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST", 503: "TEMPORARILY_UNAVAILABLE"}


class ServeError(ScoringError):
    """The server cannot start (a bad option, the key file, the address); the CLI prints it as one line, exit 2."""


class RequestError(Exception):
    """A request the server refuses, with the status to answer and a message that says what was expected and what
    came (and where: row and column); ``headers`` go on the response (``WWW-Authenticate``, ``Connection``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_body(path: str, status: int, message: str) -> dict[str, str]:
    """The error as the protocol of ``path`` shapes it: Triton/KServe ``{"error"}`` under /v2, MLflow's elsewhere."""
    if path == "/v2" or path.startswith("/v2/"):
        return {"error": message}
    return {"error_code": MLFLOW_CODES.get(status, "INTERNAL_ERROR"), "message": message}

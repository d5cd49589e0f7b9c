"""MLflow's scoring protocol: ``POST /invocations`` (its JSON shapes and CSV), ``/ping``, ``/health``, ``/version``."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from contract.cli import version
from scoring.serve.body import media_type
from scoring.serve.errors import RequestError
from scoring.serve.service import Service

JSON, CSV = "application/json", "text/csv"


def predictions(probability: list[float], label: list[int]) -> bytes:
    """MLflow's answer for a DataFrame result: one record per row. A float32 probability as a Python float is
    exact, and its JSON text reads back to the same float32."""
    return orjson.dumps({"predictions": [{"probability": p, "label": b} for p, b in zip(probability, label)]})


def routes(service: Service) -> list[Route]:
    async def invocations(request: Request) -> Response:
        kind = media_type(request)
        if kind not in (JSON, CSV):
            got = request.headers.get("content-type")
            raise RequestError(415, f"unsupported Content-Type {got!r}; /invocations takes {JSON} "
                                    f"(dataframe_split, dataframe_records, instances or inputs) or {CSV}.")
        body = await service.body(request)
        decoder = service.decoder
        x = decoder.csv(body) if kind == CSV else decoder.mlflow(body)
        out = await service.predict(x)
        return Response(predictions(out["probability"].tolist(), out["label"].tolist()), media_type=JSON)

    async def ping(request: Request) -> Response:
        return Response("\n", status_code=200 if service.ready else 503, media_type=JSON)

    async def server_version(request: Request) -> Response:
        return PlainTextResponse(version())

    return [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", server_version, methods=["GET"]),
    ]

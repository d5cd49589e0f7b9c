"""The Open Inference Protocol v2 routes (KServe v2 / Triton HTTP): health, metadata, readiness and infer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contract.cli import PACKAGE, version
from scoring.serve.body import media_type
from scoring.serve.errors import RequestError
from scoring.serve.service import Service
from scoring.serve.tensors import HEADER_LENGTH, decode_infer, encode_infer

#: Content types an infer request may declare: tritonclient sends none, and `curl -d` (as in KServe's docs) sends
#: application/x-www-form-urlencoded; a CSV or a form upload is refused.
INFER_TYPES = ("", "application/json", "application/octet-stream", "application/x-www-form-urlencoded")


def routes(service: Service) -> list[Route]:
    """The protocol's endpoints, each model path also under ``/versions/{version}``."""

    async def server_metadata(request: Request) -> Response:
        return JSONResponse({"name": PACKAGE, "version": version(), "extensions": ["binary_tensor_data"]})

    async def live(request: Request) -> Response:
        return Response(status_code=200)

    async def ready(request: Request) -> Response:
        return Response(status_code=200 if service.ready else 503)

    async def model_metadata(request: Request) -> Response:
        service.check_model(request)
        return JSONResponse(service.model_metadata())

    async def model_ready(request: Request) -> Response:
        service.check_model(request)
        return Response(status_code=200 if service.ready else 503)

    async def infer(request: Request) -> Response:
        service.check_model(request)
        if media_type(request) not in INFER_TYPES:
            raise RequestError(415, f"unsupported Content-Type {request.headers['content-type']!r}; an infer request "
                                    "is JSON, optionally followed by binary tensor data (application/octet-stream).")
        body = await service.body(request)
        decoded = decode_infer(body, request.headers.get(HEADER_LENGTH), len(service.feature_names),
                               service.feature_names)
        results = await service.predict(decoded.features)
        content, headers = encode_infer(service.options.name, request.path_params.get("version", "1"), decoded,
                                        results)
        return Response(content, headers=headers)

    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    return [  # the router tries them in order: infer first
        *(Route(f"{base}/infer", infer, methods=["POST"]) for base in (model, versioned)),
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        *(Route(base, model_metadata, methods=["GET"]) for base in (model, versioned)),
        *(Route(f"{base}/ready", model_ready, methods=["GET"]) for base in (model, versioned)),
    ]

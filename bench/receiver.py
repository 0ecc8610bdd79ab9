"""The subscriber of rows 4 and 5: a local webhook receiver.

``uvicorn bench.receiver:app`` — ``POST /hook/{n}`` answers 204 and keeps
(arrival time, path, body); ``GET /events?after=i`` returns what arrived
after the i-th request, parsed, so the bench can match deliveries to the
NCs it created. Parsing happens on read, not on receipt.
"""

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_received: list[tuple[float, str, bytes]] = []


async def hook(request: Request) -> Response:
    body = await request.body()
    _received.append((time.time(), request.url.path, body))
    return Response(status_code=204)


def _summary(t: float, path: str, body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError:
        event = {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    return {"t": t, "path": path, "type": event.get("type"), "id": event.get("id"),
            "nonconformity_id": data.get("nonconformity_id"),
            "capa_id": data.get("capa_id")}


async def events(request: Request) -> JSONResponse:
    after = int(request.query_params.get("after", "0"))
    return JSONResponse({"count": len(_received),
                         "events": [_summary(*r) for r in _received[after:]]})


async def raw(request: Request) -> Response:
    """The body of the i-th request, byte for byte (row 5 replays it with a raw client)."""
    return Response(_received[int(request.query_params["index"])][2],
                    media_type="application/json")


async def count(_request: Request) -> JSONResponse:
    return JSONResponse({"count": len(_received)})


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[
    Route("/hook/{n}", hook, methods=["POST"]),
    Route("/events", events),
    Route("/count", count),
    Route("/raw", raw),
    Route("/healthz", healthz),
])


def create_app() -> Starlette:
    """``uvicorn bench.receiver:create_app --factory``"""
    return app

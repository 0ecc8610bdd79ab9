"""Baseline of rows 1 and 6: a bare FastAPI app with the service's request model, no I/O.

``uvicorn bench.bare_app:create_app --factory``
"""

from uuid import uuid4

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.nonconformity.schemas import NonconformityCreate


def create_app() -> FastAPI:
    app = FastAPI(title="bench baseline")

    @app.post("/v1/nonconformities", status_code=201)
    async def report(body: NonconformityCreate) -> JSONResponse:
        return JSONResponse(body.model_dump(mode="json") | {"id": str(uuid4())},
                            status_code=201)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

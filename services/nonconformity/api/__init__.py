"""HTTP routers of the nonconformity service: thin — parse, authorize, call a use case."""

from .audits import router as audits_router
from .evidence import router as evidence_router
from .intake import router as intake_router
from .nonconformities import router as nonconformities_router
from .reports import router as reports_router

ROUTERS = [nonconformities_router, intake_router, audits_router, reports_router,
           evidence_router]

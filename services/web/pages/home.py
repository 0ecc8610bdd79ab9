"""The start page: where each person's work is."""

from fastapi import APIRouter
from fastapi.responses import Response

from ..deps import CurrentUser, redirect

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(user: CurrentUser) -> Response:
    # Managers start at the management review; everyone else at their inbox.
    return redirect("/dashboard" if user.holds_any("manager") else "/nonconformities")

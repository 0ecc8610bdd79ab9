"""The supplier field of the NC report form and the CAPA planning form: the
registered suppliers to pick from (an input with a datalist: by name, with the
code), and the check that what was typed names one.

The nonconformity service cannot see the CAPA service's register (no service
reads another's data), so the web checks a code against the register before it
sends the NC; the CAPA service checks a CAPA's code itself (409 "Unknown
supplier"). When the register cannot be read (the CAPA service is down), an NC
is still reported with the code as typed: reporting a problem must not wait for
another service, and the scorecards mark such a code "not in the register".
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..client import ApiError, UserApi

# One page of the register is offered (the API's largest); a supplier beyond it
# is still accepted when typed by code or name.
OFFERED = 200


@dataclass(frozen=True)
class SupplierCheck:
    code: str | None  # the registered code to send, or what was typed when unchecked
    error: str = ""


def not_registered(typed: str) -> str:
    return (f"“{typed[:60]}” is not in the supplier register. Choose a supplier from the "
            "list (type part of its name), or leave the field empty.")


async def registered_suppliers(api: UserApi) -> list[dict[str, Any]]:
    """The register's suppliers as (code, name) for the datalist; none when the
    register cannot be read (the field then takes a code as typed)."""
    try:
        page = await api.get("capa", "/v1/suppliers", limit=OFFERED)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return []
    return [{"code": s["code"], "name": s["name"]} for s in page.get("items", [])]


async def check_supplier(api: UserApi, typed: str | None) -> SupplierCheck:
    """The registered supplier ``typed`` names, by code in any spelling
    ("ACME Seals") or by its exact name ("Acme Seals GmbH"); an error otherwise."""
    typed = (typed or "").strip()
    if not typed:
        return SupplierCheck(code=None)
    try:
        found = await api.get("capa", f"/v1/suppliers/{quote(typed[:60], safe='')}")
    except ApiError as exc:
        if exc.status not in (404, 422):
            return _unchecked(typed, exc)
        found = None
    # "scorecards" reaches the register's scorecards page, which names no supplier.
    if isinstance(found, dict) and found.get("code") and "items" not in found:
        return SupplierCheck(code=str(found["code"]))
    try:
        page = await api.get("capa", "/v1/suppliers", q=typed[:100], limit=OFFERED)
    except ApiError as exc:
        return _unchecked(typed, exc)
    named = [s for s in page.get("items", []) if s["name"].casefold() == typed.casefold()]
    if len(named) == 1:
        return SupplierCheck(code=str(named[0]["code"]))
    return SupplierCheck(code=None, error=not_registered(typed))


def _unchecked(typed: str, exc: ApiError) -> SupplierCheck:
    if exc.status == 401:
        raise exc
    return SupplierCheck(code=typed)

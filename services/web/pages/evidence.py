"""Evidence files on the NC page and on a CAPA's actions and verifications:
the upload forms and the downloads.

The UI holds no file: an upload is passed on to the owning service as the
person's browser sent it (the service checks size, type and name), and a
download is the service's answer passed back with its headers, so the file
is always an attachment under the type its bytes showed, never a page of
this origin.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from ..client import ApiError, ServiceName, UserApi
from ..deps import Api, CsrfUser, CurrentUser, redirect
from .capas import render_capa
from .forms import FormState, refused, valid_uuid
from .nonconformities import render_nc
from .wording import plain

router = APIRouter()

# The service's headers a download keeps: what it is, how to save it, and that
# the browser must neither sniff nor run it.
_PASSED_ON = ("content-type", "content-disposition", "etag", "x-content-type-options",
              "content-security-policy", "cache-control")
# The CAPA records that take evidence: their part of the path, and the word for them.
_CAPA_RECORDS = {"actions": "action", "effectiveness-verifications": "verification"}


def evidence_form(record_id: str) -> str:
    """The name of the upload form of one record (its messages show beside it)."""
    return f"evidence_{record_id}"


async def _file(request: Request) -> UploadFile | None:
    form = await request.form()
    upload = form.get("file")
    return upload if isinstance(upload, UploadFile) and upload.filename else None


def _refused(form: str, exc: ApiError) -> FormState:
    """The form state for a refused upload: too large (413) and a type not taken
    (415) are said at the file field, as the other refusals are."""
    if exc.status in (413, 415):
        message = plain(str(exc))
        return FormState(name=form, errors={"file": message},
                         message=f"The file was not attached: {message}", status=422)
    return refused(form, exc, {})


async def _upload(request: Request, api: UserApi, service: ServiceName, path: str,
                  form: str) -> FormState | None:
    """Send the posted file on; the refusal's form state, or None when attached."""
    upload = await _file(request)
    if upload is None:
        return FormState(name=form, errors={"file": "Choose a file to attach."},
                         message="No file was chosen.", status=422)
    content = await upload.read()
    try:
        await api.upload(service, path, filename=upload.filename or "evidence",
                         content=content, content_type=upload.content_type)
    except ApiError as exc:
        return _refused(form, exc)
    return None


async def _download(api: UserApi, service: ServiceName, path: str) -> Response:
    got = await api.download(service, path)
    headers = {name: got.headers[name] for name in _PASSED_ON if name in got.headers}
    return Response(got.body, status_code=got.status, headers=headers)


@router.post("/nonconformities/{nc_id}/evidence", include_in_schema=False)
async def attach_to_nc(request: Request, nc_id: str, user: CsrfUser, api: Api) -> Response:
    nc_id = valid_uuid(nc_id, "nonconformity")
    state = await _upload(request, api, "nonconformity", f"/v1/nonconformities/{nc_id}/evidence",
                          "evidence")
    if state is not None:
        return await render_nc(request, api, user, nc_id, state)
    user.flash("Evidence attached.", "ok")
    return redirect(f"/nonconformities/{nc_id}#evidence")


@router.get("/nonconformities/{nc_id}/evidence/{attachment_id}", include_in_schema=False)
async def download_nc_evidence(nc_id: str, attachment_id: str, _user: CurrentUser,
                               api: Api) -> Response:
    nc_id = valid_uuid(nc_id, "nonconformity")
    attachment_id = valid_uuid(attachment_id, "evidence file")
    return await _download(api, "nonconformity",
                           f"/v1/nonconformities/{nc_id}/evidence/{attachment_id}")


def _capa_record(records: str) -> str:
    if records not in _CAPA_RECORDS:
        # Only the two collections exist; anything else is an address nobody gave out.
        raise ApiError(404, "There is no such page.")
    return records


@router.post("/capas/{capa_id}/{records}/{record_id}/evidence", include_in_schema=False)
async def attach_to_capa_record(request: Request, capa_id: str, records: str, record_id: str,
                                user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    records = _capa_record(records)
    record_id = valid_uuid(record_id, _CAPA_RECORDS[records])
    anchor = "actions" if records == "actions" else "effectiveness"
    state = await _upload(request, api, "capa",
                          f"/v1/capas/{capa_id}/{records}/{record_id}/evidence",
                          evidence_form(record_id))
    if state is not None:
        return await render_capa(request, api, user, capa_id, state)
    user.flash("Evidence attached.", "ok")
    return redirect(f"/capas/{capa_id}#{anchor}")


@router.get("/capas/{capa_id}/{records}/{record_id}/evidence/{attachment_id}",
            include_in_schema=False)
async def download_capa_evidence(capa_id: str, records: str, record_id: str,
                                 attachment_id: str, _user: CurrentUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    records = _capa_record(records)
    record_id = valid_uuid(record_id, _CAPA_RECORDS[records])
    attachment_id = valid_uuid(attachment_id, "evidence file")
    return await _download(api, "capa", f"/v1/capas/{capa_id}/{records}/{record_id}"
                                        f"/evidence/{attachment_id}")

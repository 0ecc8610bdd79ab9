"""The 5-Whys root-cause form of a CAPA: add/remove why rows without JavaScript,
save a draft, submit.

Two people may edit the same analysis: each save sends the ETag the form was
shown with. When someone else saved first (412) the person's own text stays in
the form, the version now saved is shown beside it, and the form carries the new
ETag, so saving again knowingly replaces that version.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..client import ApiError
from ..deps import Api, CsrfUser, redirect
from .capas import render_capa
from .forms import posted, posted_list, refused, valid_uuid
from .similar import capa_panel
from .why_form import add_row, form_from_post, remove_row, row_messages, to_api

router = APIRouter()

CONFLICT_MESSAGE = ("Someone else saved this root-cause analysis first. Your text is kept in "
                    "the form below; the version they saved is shown above it. Compare the "
                    "two, then save again to replace their version with yours.")


@router.post("/capas/{capa_id}/root-cause", include_in_schema=False)
async def root_cause(request: Request, capa_id: str, user: CsrfUser, api: Api) -> Response:
    capa_id = valid_uuid(capa_id, "CAPA")
    values = await posted(request)
    form = form_from_post(values, await posted_list(request, "why"),
                          await posted_list(request, "because"))
    op = values.get("op", "")
    # The row buttons only change the form on the page; nothing is saved yet.
    if "remove_why" in values:
        remove_row(form, values["remove_why"])
        return await render_capa(request, api, user, capa_id, root_form=form)
    if op == "add_why":
        add_row(form)
        return await render_capa(request, api, user, capa_id, root_form=form)
    if op == "find_similar":  # from the draft as typed; nothing is saved
        return await render_capa(request, api, user, capa_id, root_form=form,
                                 similar=await capa_panel(api, capa_id, suggest=True,
                                                          draft=form))
    status = "submitted" if op == "submit" else "draft"
    body, aliases = to_api(form, status)
    try:
        await api.send("capa", "PUT", f"/v1/capas/{capa_id}/root-cause", body,
                       if_match=form["etag"] or None)
    except ApiError as exc:
        state = refused("root_cause", exc, values, aliases=aliases,
                        stale_message=CONFLICT_MESSAGE, explain=row_messages(aliases))
        if state.stale:
            # Keep the person's text but take the current ETag from the fresh read
            # (render_capa puts it in the form when root_form has none).
            form["etag"] = ""
        return await render_capa(request, api, user, capa_id, state, root_form=form)
    user.flash("Root-cause analysis submitted." if status == "submitted"
               else "Root-cause analysis saved as a draft.", "ok")
    return redirect(f"/capas/{capa_id}#root-cause")

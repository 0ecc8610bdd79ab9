"""The 5-Whys root-cause form as the page holds it: built from the saved analysis or
from what the person posted, and turned into the API's body.

Pure functions, no router: capas.py renders the form, capa_forms.py handles its posts.
"""

import re
from collections.abc import Callable
from itertools import zip_longest
from typing import Any

from .forms import FormState, lines, text

# A fresh analysis starts with the minimum chain the API asks for at submission.
START_ROWS = 3
MAX_ROWS = 20  # the API's limit


def form_from_saved(saved: dict[str, Any], etag: str) -> dict[str, Any]:
    whys = [{"why": w.get("why", ""), "because": w.get("because", "")}
            for w in saved.get("whys") or []]
    return {"etag": etag,
            "problem_statement": saved.get("problem_statement") or "",
            "whys": whys or [{"why": "", "because": ""} for _ in range(START_ROWS)],
            "short_chain_justification": saved.get("short_chain_justification") or "",
            "root_cause": saved.get("root_cause") or "",
            "cause_category": saved.get("cause_category") or "",
            "contributing_factors": "\n".join(saved.get("contributing_factors") or [])}


def form_from_post(values: dict[str, str], why: list[str], because: list[str]
                   ) -> dict[str, Any]:
    rows = [{"why": w or "", "because": b or ""} for w, b in zip_longest(why, because)]
    return {"etag": values.get("etag", ""),
            "problem_statement": values.get("problem_statement", ""),
            "whys": rows or [{"why": "", "because": ""}],
            "short_chain_justification": values.get("short_chain_justification", ""),
            "root_cause": values.get("root_cause", ""),
            "cause_category": values.get("cause_category", ""),
            "contributing_factors": values.get("contributing_factors", "")}


# Where the keyboard focus goes when the page comes back after a row button
# (``form["focus"]``): a row's index (its "Why" field) or ADD_BUTTON. Without it
# focus would fall to the top of the page, far from the row the person was in.
ADD_BUTTON = "add"


def add_row(form: dict[str, Any]) -> None:
    if len(form["whys"]) < MAX_ROWS:
        form["whys"].append({"why": "", "because": ""})
        form["focus"] = len(form["whys"]) - 1
    else:
        form["focus"] = ADD_BUTTON


def remove_row(form: dict[str, Any], index: str) -> None:
    # One row always stays, so the form keeps a place to type.
    if index.isdigit() and int(index) < len(form["whys"]) and len(form["whys"]) > 1:
        del form["whys"][int(index)]
        # The row that took its place, or "Add a why" when the last row went.
        form["focus"] = int(index) if int(index) < len(form["whys"]) else ADD_BUTTON


def to_api(form: dict[str, Any], status: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The PUT body, and aliases from the API's error fields to the form's.

    Empty rows are left out (the add-row button leaves some); the API's row numbers
    then differ from the page's, so "whys.1" may be the page's third row.
    """
    whys: list[dict[str, str]] = []
    aliases = {"whys": "whys", "contributing_factors": "contributing_factors"}
    for row_index, row in enumerate(form["whys"]):
        why, because = row["why"].strip(), row["because"].strip()
        if not (why or because):
            continue
        aliases[f"whys.{len(whys)}"] = f"whys.{row_index}"
        whys.append({"why": why, "because": because})
    body = {"status": status, "problem_statement": text(form["problem_statement"]),
            "whys": whys,
            "short_chain_justification": text(form["short_chain_justification"]),
            "root_cause": text(form["root_cause"]),
            "cause_category": form["cause_category"] or None,
            "contributing_factors": lines(form["contributing_factors"])}
    return body, aliases


# What the API says about a blank half of a row it was sent (its WhyStep texts
# need at least one character).
_BLANK = re.compile(r"^String should have at least 1 character")


def row_messages(aliases: dict[str, str]) -> Callable[[str, str], str | None]:
    """For forms.refused: a half-filled row named as the page numbers it ("Why 2
    needs its answer"); the API's row numbers skip empty rows (see ``to_api``)."""
    def explain(key: str, message: str) -> str | None:
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "whys" or parts[2] not in ("why", "because") \
                or not parts[1].isdigit() or not _BLANK.match(message):
            return None
        n = int(aliases.get(f"whys.{parts[1]}", key).split(".")[1]) + 1
        if parts[2] == "because":
            return f"Why {n} needs its answer (Because {n}) — or remove the row."
        return f"Because {n} needs its question (Why {n}) — or remove the row."
    return explain


def why_rows(form: dict[str, Any], state: FormState) -> list[dict[str, Any]]:
    """The rows with their own error message (from a refused save) and whether the
    focus goes to the row (after a row button, see ``ADD_BUTTON``)."""
    errors = state.of("root_cause").errors
    return [{"why": row["why"], "because": row["because"],
             "error": errors.get(f"whys.{i}", ""), "focus": form.get("focus") == i}
            for i, row in enumerate(form["whys"])]

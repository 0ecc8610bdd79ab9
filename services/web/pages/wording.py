"""The APIs' validation wording in plain words, in one place.

The services answer a malformed field with pydantic's text ("String should have
at least 1 character", a regular expression, "Input should be a valid UUID,
invalid character: ..."). That is right for API clients and wrong for people, so
every message a form shows passes through ``plain``. The services' own domain
messages ("State the root cause before submitting.") pass unchanged, except that
the API field names they mention are replaced by the label the form shows.

Not a page module (no router): forms.py, sub_forms.py and the pages use it.
"""

import re
from collections.abc import Callable

# The detail of every pydantic refusal; the field messages say the rest.
GENERIC_DETAIL = "The request is not valid; see errors for each field."
GENERIC_PLAIN = "Some fields need another look; see the messages at them."

# API field names that domain messages mention, as the form labels them.
LABELS = {
    "short_chain_justification": "“If fewer than 3 levels: why they reach the root cause”",
    "duplicate_of": "“Duplicate of (NC number)”",
    "override_reason": "“Reason to verify before the check date”",
}
# With the article before it, if any: "an override_reason" becomes "a “Reason ...”".
_LABELLED = re.compile(r"(?:\b(an?) )?\b(" + "|".join(map(re.escape, LABELS)) + r")\b")


def _label(match: re.Match[str]) -> str:
    words = LABELS[match.group(2)]
    if not match.group(1):
        return words
    article = "an" if words.lstrip("“")[:1].lower() in "aeiou" else "a"
    return f"{article} {words}"


def _at_least(match: re.Match[str]) -> str:
    n = int(match.group(1))
    return f"Needs at least {n} character{'s' if n != 1 else ''}."


def _at_most(match: re.Match[str]) -> str:
    return f"Too long: at most {match.group(1)} characters."


def _choices(match: re.Match[str]) -> str:
    return f"Choose one of {match.group(1)}."


# The regular expressions of the APIs' text fields, as what they allow.
PATTERNS = {
    r"^[A-Za-z0-9._:/-]+$": "Tags may use letters, digits and . _ : / - only.",
    r"^[A-Za-z0-9_.*?\[\]!-]+$": "Event types may use letters, digits and . _ - and the "
                                 "wildcards * ? [ ] ! only (e.g. capaflow.capa.*).",
    r"\S": "Needs some text, not only spaces.",
    r"\S[\s\S]+\S": "Needs at least 3 characters.",
}


def _pattern(match: re.Match[str]) -> str:
    return PATTERNS.get(match.group(1) or "", "Contains characters that are not allowed here.")


# (pydantic's wording, the plain words), first match wins. Patterns the APIs use
# are named by what they allow; any other pattern is not shown at all.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^Input should be a valid UUID"), "Give the id as shown on its page (a UUID)."),
    (re.compile(r"^String should match pattern(?: '(.*)')?$", re.S), _pattern),
    (re.compile(r"^String should have at least (\d+) characters?$"), _at_least),
    (re.compile(r"^String should have at most (\d+) characters?$"), _at_most),
    (re.compile(r"^List should have at most (\d+) items?"),
     lambda m: f"Too many: at most {m.group(1)}."),
    (re.compile(r"^Field required$"), "Fill this in."),
    (re.compile(r"^Input should be a valid (date|datetime)"),
     "Give a date as YYYY-MM-DD, e.g. 2026-01-31."),
    (re.compile(r"^(Input should be a valid URL|URL scheme should be)"),
     "Give a web address starting with https:// (or http://)."),
    (re.compile(r"^Input should be ('[^']*'(?:, '[^']*')*(?: or '[^']*')?)$"), _choices),
    (re.compile(r"^Extra inputs are not permitted$"), "This field is not expected here."),
]


def plain(message: str) -> str:
    """``message`` as a person should read it (see the module docstring)."""
    message = message.removeprefix("Value error, ")
    if message == GENERIC_DETAIL:
        return GENERIC_PLAIN
    for pattern, words in _RULES:
        match = pattern.search(message)
        if match:
            message = words if isinstance(words, str) else words(match)
            break
    return _LABELLED.sub(_label, message)

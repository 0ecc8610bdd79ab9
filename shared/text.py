"""Patterns for text in requests, written so that the OpenAPI document and the
server agree on every string: what the schema admits is accepted, what it
excludes is refused (the project's fuzz test checks both directions).

``\\s`` cannot be used for that: Python's re (which schemathesis and the
jsonschema validators use) counts U+001C..U+001F as white space, pydantic's
Rust regex and its ``strip_whitespace`` do not, and ECMA-262 differs again.
So the blanks are spelt out.
"""

# Unicode White_Space (what strip_whitespace strips) plus U+001C..U+001F (what
# Python's str.strip(), used by the domain's "is it blank?" checks, strips too).
BLANKS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters that show nothing but are not white space: format controls (zero
# width, bidi marks, word joiner, BOM), variation selectors and the blank-looking
# letters (Hangul fillers, the blank Braille pattern). Allowed inside text, but a
# text made of them and blanks only reads as empty (a manager's "reason" of one
# U+200B, say), so they do not count as the visible character text needs.
INVISIBLES = (r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
              r"\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0")
# Free text: at least one character that is neither blank nor invisible, and no
# NUL anywhere (no database column holds it; NulGuard refuses it with 422).
SOME_VISIBLE = rf"^[^\x00]*[^\x00{BLANKS}{INVISIBLES}][^\x00]*$"


# What a one-line text (a supplier's or contact's name, what a supplier supplies)
# must not hold inside: C0 and C1 controls (CR/LF, TAB, VT, FF end or split a
# line of a CSV export or an e-mail), the line and paragraph separators, and the
# bidi controls and BOM that reorder or hide what a reader sees (U+202E shows
# "exe.pdf" as "fdp.exe").
NOT_IN_A_LINE = (r"\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                 r"\u2066-\u2069\ufeff")
# What strip_whitespace (pydantic's, Unicode White_Space) takes off the ends
# before the pattern is checked: allowed at the ends by the schema too, so the
# schema and the server agree (" Acme\n" is "Acme" to both).
_STRIPPED = r"\t-\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ONE_LINE = (rf"^[{_STRIPPED}]*[^\x00{NOT_IN_A_LINE}]*"
            rf"[^\x00{BLANKS}{INVISIBLES}{NOT_IN_A_LINE}][^\x00{NOT_IN_A_LINE}]*[{_STRIPPED}]*$")


def some_visible(*, excluding: str = "") -> str:
    """SOME_VISIBLE that also excludes the characters of the class ``excluding``."""
    return (rf"^[^\x00{excluding}]*[^\x00{BLANKS}{INVISIBLES}{excluding}]"
            rf"[^\x00{excluding}]*$")


# A person's identity as an owner or a filter: letters of one script (Latin,
# Greek, Cyrillic, Hebrew, Arabic, Devanagari, or the Chinese-Japanese-Korean
# family), digits, . _ @ + ' -
# and inner spaces. shared.identity.canonical_identity accepts every such name
# (tests/unit/test_text_patterns.py checks each character), so the schema says
# exactly what the server takes: invisible characters, controls and a Latin
# name with a Cyrillic look-alike fail the pattern instead of a check the
# schema could not show.
# Digits and . _ @ + ' - (and their full-width forms, which NFKC folds back).
_SAME_IN_EVERY_SCRIPT = r"0-9._@+'\-\uff07\uff0b\uff0d\uff0e\uff10-\uff19\uff20\uff3f"
IDENTITY_SCRIPTS = {
    # ASCII, Latin-1 and Latin Extended-A letters, and their full-width forms.
    "latin": r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f\uff21-\uff3a\uff41-\uff5a",
    "greek": r"\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03ce",
    "cyrillic": r"\u0400-\u045f",
    "hebrew": r"\u05d0-\u05ea",
    "arabic": r"\u0620-\u064a\u066e-\u06d3",
    # Devanagari letters with their vowel signs and marks (names need them).
    "devanagari": r"\u0900-\u0939\u093c-\u094d\u0950-\u0963\u0971-\u097f",
    # Hiragana, katakana (with the prolonged sound mark), the unified ideographs
    # and precomposed Hangul syllables: names mix these, and the identity rule
    # counts them as one family.
    "cjk": r"\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff\uac00-\ud7a3",
}
IDENTITY_PATTERN = "^(?:" + "|".join(
    f" *[{letters}{_SAME_IN_EVERY_SCRIPT}][{letters}{_SAME_IN_EVERY_SCRIPT} ]*"
    for letters in IDENTITY_SCRIPTS.values()) + ")$"
# Canonicalisation at most doubles a name (ß -> ss, Ĳ -> ij), and stored
# identities are at most 255 characters.
IDENTITY_MAX_CHARS = 127

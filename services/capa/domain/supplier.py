"""Suppliers (ISO 9001 8.4): the register's rules. Pure Python.

A supplier is named everywhere by a short code (``acme-seals``): NCs, CAPAs,
SCARs and the scorecards meet on it, and people type it, so it has one
canonical form and two spellings of one code ("ACME Seals", "acme_seals")
are the same supplier.
"""

import re
import unicodedata
from enum import StrEnum

CODE_MIN, CODE_MAX = 2, 32
# What the canonical form looks like: lower-case ASCII letters and digits in
# words joined by single hyphens. The API's schema states it (SUPPLIER_CODE_INPUT
# admits what canonical_code turns into it).
CODE_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# What a client may send: the same letters in any case, at least two, with
# spaces, _ . or - between the words. Exactly the inputs canonical_code takes
# (within the input's 32 characters), so the schema and the server agree.
CODE_INPUT_PATTERN = r"^[ ]*[A-Za-z0-9](?:[ _.\-]*[A-Za-z0-9])+[ ]*$"
_SEPARATORS = re.compile(r"[ _.\-]+")
_CANONICAL = re.compile(CODE_PATTERN)


class SupplierCriticality(StrEnum):
    """How much a failure of the supplier hurts: sets how closely it is watched."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class InvalidCode(ValueError):
    """Not a supplier code, even after canonicalisation."""


def canonical_code(value: str) -> str:
    """The code in its one stored form: NFKC, lower case, words joined by '-'.

    ``" ACME_Seals "`` -> ``acme-seals``. Anything else than letters, digits and
    separators is refused (no look-alike letters from other scripts: a code is
    typed from a purchase order and compared byte for byte)."""
    folded = unicodedata.normalize("NFKC", value).strip().lower()
    code = _SEPARATORS.sub("-", folded).strip("-")
    if not CODE_MIN <= len(code) <= CODE_MAX or not _CANONICAL.fullmatch(code):
        raise InvalidCode(f"a supplier code is {CODE_MIN} to {CODE_MAX} letters (a-z) and "
                          "digits, words joined by '-', e.g. acme-seals")
    return code

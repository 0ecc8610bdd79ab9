"""A supplier's code in its one canonical form: the key the nonconformity
service (an NC names its supplier), the CAPA service (the register, CAPAs,
SCARs) and subscribers meet on, so it is a contract like an identity's form.

``" ACME_Seals "`` -> ``acme-seals``: lower-case ASCII letters and digits in
words joined by single hyphens, 2 to 32 characters.
"""

import re
import unicodedata

CODE_MIN, CODE_MAX = 2, 32
CODE_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# What a client may send: the same letters in any case, at least two, with
# spaces, _ . or - between the words. Exactly the inputs canonical_code takes
# (within the input's 32 characters), so an API's schema and its server agree.
CODE_INPUT_PATTERN = r"^[ ]*[A-Za-z0-9](?:[ _.\-]*[A-Za-z0-9])+[ ]*$"
_SEPARATORS = re.compile(r"[ _.\-]+")
_CANONICAL = re.compile(CODE_PATTERN)


class InvalidCode(ValueError):
    """Not a supplier code, even after canonicalisation."""


def canonical_code(value: str) -> str:
    """The code in its stored form (NFKC, lower case, words joined by '-').

    Anything but letters, digits and separators is refused: no look-alike
    letters from other scripts, since a code is typed from a purchase order
    and compared byte for byte."""
    folded = unicodedata.normalize("NFKC", value).strip().lower()
    code = _SEPARATORS.sub("-", folded).strip("-")
    if not CODE_MIN <= len(code) <= CODE_MAX or not _CANONICAL.fullmatch(code):
        raise InvalidCode(f"a supplier code is {CODE_MIN} to {CODE_MAX} letters (a-z) and "
                          "digits, words joined by '-', e.g. acme-seals")
    return code

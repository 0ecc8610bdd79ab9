"""Identities (owners, verifiers, key subjects) in one canonical form.

Two spellings of one person must compare equal (``DEV-Verifier``, the
full-width letters of an East Asian keyboard), and no spelling may pass for
another person: characters that render as nothing, blank fillers and
look-alike letters from another script are refused where an identity is
given, so "dev-verifier" followed by an invisible joiner, or with a Cyrillic
"e" (U+0435), cannot own a CAPA that "dev-verifier" then verifies.
"""

import unicodedata

# Categories that render as nothing (format characters like U+200B, controls,
# line/paragraph separators) or as nothing defined (unassigned, private use,
# surrogates).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): variation
# selectors, the combining grapheme joiner, Hangul and Khmer fillers... many are
# marks or letters by category, so the categories above miss them.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Visible-as-blank characters that are not default-ignorable.
_BLANKS = frozenset({0x2800})  # BRAILLE PATTERN BLANK
# Scripts used together in one name (Japanese mixes these three with Han).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK",
                    "KATAKANA-HIRAGANA": "CJK", "IDEOGRAPHIC": "CJK"}


class InvalidIdentity(ValueError):
    """An identity holds characters a person cannot see or type reliably."""


def _invisible(c: str) -> bool:
    code = ord(c)
    if unicodedata.category(c) in _INVISIBLE_CATEGORIES or code in _BLANKS:
        return True
    if unicodedata.category(c) == "Zs" and c != " ":
        return True  # NFKC already made the usual spaces " "; what is left is odd
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def _script(c: str) -> str | None:
    """The script of a letter, from its Unicode name (the standard library has
    no Script property); None for what is not a letter of a script."""
    if not unicodedata.category(c).startswith("L"):
        return None
    word = unicodedata.name(c, "").split(" ", 1)[0]
    if word in ("", "MODIFIER"):
        return None
    return _SCRIPT_FAMILIES.get(word, word)


def canonical_identity(identity: str) -> str:
    """The form identities are stored and compared in: NFKC, case-folded, trimmed.

    NFKC folds compatibility look-alikes (full-width letters, ligatures, the
    non-breaking space); casefold makes ``DEV-VERIFIER`` and ``dev-verifier``
    one person. Raises :class:`InvalidIdentity` for invisible characters, which
    canonicalisation would otherwise keep, and for letters of several scripts
    (a Latin name with a Cyrillic look-alike).
    """
    folded = unicodedata.normalize("NFKC", identity).casefold().strip()
    # casefold can leave non-NFKC sequences (e.g. U+0345); normalise once more.
    folded = unicodedata.normalize("NFKC", folded)
    bad = sorted({f"U+{ord(c):04X}" for c in folded if _invisible(c)})
    if bad:
        raise InvalidIdentity(f"contains invisible or control characters ({', '.join(bad)})")
    scripts = sorted({s for s in map(_script, folded) if s})
    if len(scripts) > 1:
        raise InvalidIdentity(f"mixes letters of several scripts ({', '.join(scripts)}); "
                              "write the name in one")
    return folded


def same_identity(a: str | None, b: str | None) -> bool:
    """Whether two stored or presented identities name the same person.

    Values stored before identities were canonical may still hold invisible
    characters; those are dropped here so an old "bob\u200b" still equals "bob".
    """
    if a is None or b is None:
        return False
    return tolerant_identity(a) == tolerant_identity(b)


def tolerant_identity(identity: str) -> str:
    """The canonical form with invisible characters dropped instead of refused:
    for values that cannot be sent back (events, rows written before)."""
    kept = "".join(c for c in unicodedata.normalize("NFKC", identity) if not _invisible(c))
    return unicodedata.normalize("NFKC", kept.casefold().strip())

"""The published text patterns say exactly what the server takes (issue 13.11):
every identity the pattern admits is one shared.identity accepts, and the
"some visible character" pattern agrees with the blank checks it stands for."""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from services.capa.request_rules import LongText, Person
from shared.identity import _script, canonical_identity
from shared.text import (
    IDENTITY_MAX_CHARS,
    IDENTITY_PATTERN,
    IDENTITY_SCRIPTS,
    SOME_VISIBLE,
)

_CLASS_ITEM = re.compile(r"\\u([0-9a-f]{4})|(.)")


def _characters(letters: str) -> list[str]:
    """The characters of a class body written with \\uXXXX escapes and a-b ranges."""
    items = [chr(int(h, 16)) if h else c for h, c in _CLASS_ITEM.findall(letters)]
    out: list[str] = []
    i = 0
    while i < len(items):
        if i + 2 < len(items) and items[i + 1] == "-":
            out += [chr(c) for c in range(ord(items[i]), ord(items[i + 2]) + 1)]
            i += 3
        else:
            out.append(items[i])
            i += 1
    return out


@pytest.mark.parametrize("script", sorted(IDENTITY_SCRIPTS))
def test_every_letter_the_pattern_admits_is_an_identity_of_one_script(script: str) -> None:
    letters = _characters(IDENTITY_SCRIPTS[script])
    assert len(letters) > 20
    seen: set[str] = set()
    for letter in letters:
        assert re.fullmatch(IDENTITY_PATTERN, f"{letter}0.a" if script == "latin" else letter)
        canonical = canonical_identity(letter)  # raises for anything refused
        assert len(canonical) <= 2, hex(ord(letter))
        seen |= {s for s in map(_script, canonical) if s}
    assert len(seen) == 1, seen
    # The whole alphabet as one name: still one script, within the stored length.
    name = "".join(letters[:IDENTITY_MAX_CHARS])
    assert len(canonical_identity(name)) <= 255


@pytest.mark.parametrize("name", [
    "dev-verifier", " Quality.Lead ", "\uff54\uff45\uff53\uff54\uff0d\uff56",
    "jürgen.strauß", "Ελένη", "иван-петров", "山田 太郎", "0", "أحمد", "דוד.כהן", "अनीता"])
def test_names_people_write_are_taken(name: str) -> None:
    assert TypeAdapter(Person).validate_python(name) == canonical_identity(name)


@pytest.mark.parametrize("name", ["dev-\u200bverifier", "dev\x1bverifier", "dev-v\u0435rifier",
                                  "", "   ", "a\tb", "a" * (IDENTITY_MAX_CHARS + 1)])
def test_names_outside_the_pattern_are_refused(name: str) -> None:
    assert not re.fullmatch(IDENTITY_PATTERN, name) or len(name) > IDENTITY_MAX_CHARS
    with pytest.raises(ValidationError):
        TypeAdapter(Person).validate_python(name)


# Invisible characters (a zero-width space, a BOM, Hangul fillers, the blank
# Braille pattern) show nothing: a "reason" made of them is as empty as spaces.
@pytest.mark.parametrize("text", [" ", "\x1c", "\u3000\n", "\x85", "\u2028", "\ufeff",
                                  "\u200b", " \u200b ", "\u3164\u3164", "\u2800", "\u202e"])
def test_blank_text_fails_the_pattern_and_the_server_alike(text: str) -> None:
    assert not re.match(SOME_VISIBLE, text)
    with pytest.raises(ValidationError):
        TypeAdapter(LongText).validate_python(text)


@pytest.mark.parametrize("text", ["a", " a ", "\x1ca", "\ufeffa", "a\u200b"])
def test_visible_text_passes_the_pattern_and_the_server_alike(text: str) -> None:
    assert re.match(SOME_VISIBLE, text)
    assert TypeAdapter(LongText).validate_python(text)

"""Canonical identities and who may verify a fix (issue 13.2)."""

import pytest

from services.capa.domain.independence import TrailEntry, fixed_it, owners_since_implementation
from shared.identity import InvalidIdentity, canonical_identity, same_identity


def _fullwidth(text: str) -> str:
    """The full-width look-alike of an ASCII name (NFKC folds it back)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@pytest.mark.parametrize("spelling", ["dev-verifier", "DEV-VERIFIER", " Dev-Verifier ",
                                      _fullwidth("dev-verifier")])
@pytest.mark.requirement("part11-11.100")
def test_spellings_of_one_person_are_one_identity(spelling: str) -> None:
    assert canonical_identity(spelling) == "dev-verifier"
    assert same_identity(spelling, "dev-verifier")


@pytest.mark.parametrize("hidden", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad",
                                    "\u202e", "\x07", "\u2028", "\u2029", "\ue000"])
@pytest.mark.requirement("part11-11.100")
def test_invisible_characters_are_refused(hidden: str) -> None:
    with pytest.raises(InvalidIdentity):
        canonical_identity(f"dev-{hidden}verifier")
    # A value stored before the rule still names the same person.
    assert same_identity(f"dev-{hidden}verifier", "dev-verifier")


def test_different_people_stay_different() -> None:
    assert not same_identity("dev-verifier", "dev-verifier2")
    assert not same_identity(None, "dev-verifier")


def _status(to: str) -> TrailEntry:
    return TrailEntry("status_changed", {"status": "x"}, {"status": to})


def _owner(before: str | None, after: str | None) -> TrailEntry:
    return TrailEntry("updated", {"owner": before}, {"owner": after})


@pytest.mark.requirement("iso9001-10.2.1d", "part11-11.10g")
def test_an_owner_handed_over_during_implementation_or_verification_counts() -> None:
    trail = [_owner("ann", "bob"), _status("implementing"), _owner("bob", "cid"),
             _status("verifying"), _owner("cid", "dee")]
    assert owners_since_implementation(trail, "dee") == {"bob", "cid", "dee"}
    assert fixed_it("BOB", owners_since_implementation(trail, "dee")) == "bob"
    # ann handed it over before the fix was carried out: she may judge it.
    assert fixed_it("ann", owners_since_implementation(trail, "dee")) is None


def test_a_reopened_capa_counts_from_its_last_implementation() -> None:
    trail = [_status("implementing"), _owner("ann", "bob"), _status("verifying"),
             _status("investigating"), _status("implementing")]
    assert owners_since_implementation(trail, "bob") == {"bob"}


def test_without_any_implementation_every_owner_counts() -> None:
    assert owners_since_implementation([_owner("ann", "bob")], "bob") == {"ann", "bob"}
    assert owners_since_implementation([], None) == set()


@pytest.mark.requirement("part11-11.100")
def test_default_ignorables_fillers_and_look_alike_scripts_are_refused() -> None:
    """The spellings an outside review used to pass for "dev-manager"."""
    import pytest

    for trick in ("dev-manager\u034f", "dev-manager\ufe0f", "dev-manager\u180b",
                  "dev-manager\u3164", "dev-manager\u2800", "d\u0435v-manager",
                  "dev\u00admanager"):
        with pytest.raises(InvalidIdentity):
            canonical_identity(trick)
    # People's names in one script stay welcome, marks and all.
    for name in ("josé", "müller", "дмитрий", "山田たろう", "अनीता", "o'brien@example.com"):
        assert canonical_identity(name) == canonical_identity(name.upper())

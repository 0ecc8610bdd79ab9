"""The keyed audit chain: truncation and re-hashing are found (issue 13.4)."""

from dataclasses import replace

import pytest

from services.capa.domain.audit_chain import (
    GENESIS,
    KEYED,
    ChainedEntry,
    ChainReport,
    entry_hash,
    head_value,
    verify_chain,
)

KEY = b"k" * 32
CAPA = "6f1c9d9e-8d43-4f0b-9a56-2a4b8c1d0e11"


def _chain(n: int, *, key: bytes | None = KEY, start: int = 1,
           previous: str = GENESIS) -> list[ChainedEntry]:
    entries = []
    for i in range(start, start + n):
        content = {"sequence": i, "actor": "alice", "action": "updated", "after": {"n": i}}
        digest = entry_hash(previous, content, key)
        entries.append(ChainedEntry(i, content, previous, digest, KEYED if key else None))
        previous = digest
    return entries


def _head(entries: list[ChainedEntry]) -> str:
    return head_value(KEY, CAPA, entries[-1].sequence, entries[-1].hash)


def _verify(entries: list[ChainedEntry], head: str | None,
            key: bytes | None = KEY) -> ChainReport:
    return verify_chain(entries, key=key, capa_id=CAPA, head=head)


def test_an_untouched_keyed_chain_verifies_with_its_head() -> None:
    entries = _chain(5)
    report = _verify(entries, _head(entries))
    assert report.valid and report.head_checked and report.legacy_entries == 0


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
def test_deleting_the_last_entries_is_detected() -> None:
    entries = _chain(5)
    head = _head(entries)
    for kept in (4, 2, 0):
        report = _verify(entries[:kept], head)
        assert not report.valid, kept
        assert report.first_broken_sequence == kept + 1
        assert "removed" in (report.problem or "")


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
def test_an_edit_rehashed_without_the_key_is_detected() -> None:
    entries = _chain(5)
    head = _head(entries)
    forged: list[ChainedEntry] = []
    previous = GENESIS
    for e in entries:
        content = {**e.content, "actor": "mallory"} if e.sequence == 2 else e.content
        # Recomputed as plain SHA-256, and as HMAC with a guessed key: neither fits.
        for guess, scheme in ((None, None), (b"guess" * 8, KEYED)):
            digest = entry_hash(previous, content, guess)
            candidate = [*forged, replace(e, content=content, previous_hash=previous,
                                          hash=digest, scheme=scheme)]
            report = _verify(candidate + entries[e.sequence:], head)
            assert not report.valid
        forged.append(replace(e, content=content, previous_hash=previous,
                              hash=entry_hash(previous, content), scheme=None))
        previous = forged[-1].hash
    # The whole chain re-hashed as plain "legacy" SHA-256, with or without its head:
    report = _verify(forged, None)
    assert not report.valid and report.first_broken_sequence == 1
    assert "not keyed" in (report.problem or "")
    assert not _verify(forged, head).valid


def test_an_edit_without_rehash_is_detected_at_that_entry() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], content={**entries[2].content, "actor": "mallory"})
    report = _verify(entries, _head(_chain(5)))
    assert not report.valid and report.first_broken_sequence == 3


def test_a_removed_head_is_detected() -> None:
    report = _verify(_chain(3), None)
    assert not report.valid and "no audit head" in (report.problem or "")


def test_a_head_of_another_capa_does_not_fit() -> None:
    entries = _chain(3)
    other = head_value(KEY, "another-capa", 3, entries[-1].hash)
    assert not _verify(entries, other).valid


def test_without_a_key_plain_entries_verify_as_legacy_and_say_so() -> None:
    report = _verify(_chain(3, key=None), None, key=None)
    assert report.valid and report.legacy_entries == 3 and not report.head_checked


@pytest.mark.requirement("part11-11.10e")
def test_a_plain_entry_after_a_keyed_one_is_refused() -> None:
    keyed = _chain(2)
    plain = _chain(1, key=None, start=3, previous=keyed[-1].hash)
    report = _verify(keyed + plain, _head(keyed))
    assert not report.valid and report.first_broken_sequence == 3


def test_without_the_key_a_keyed_chain_cannot_be_called_valid() -> None:
    entries = _chain(2)
    assert not _verify(entries, _head(entries), key=None).valid

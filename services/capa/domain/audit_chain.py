"""The audit trail is a keyed hash chain with a keyed head.

Each entry's hash covers its content and the hash of the entry before it, so
editing or removing an entry breaks every hash after it. A plain SHA-256
chain can be recomputed by whoever edits the database, so entries are keyed:
``HMAC-SHA256(key, previous_hash + content)`` with a key that is not in the
database (``CAPA_AUDIT_KEY``). Removing the *last* entries leaves a valid
shorter chain, so the CAPA also keeps a keyed head,
``HMAC(key, "head" + capa id + last sequence + last hash)``, rewritten with
every entry: a chain that ends before its head says is truncated, and without
the key nobody can write the head of a shorter chain.

With a key every entry must be keyed: chains from before the key are keyed
by the migration (``service.audit_keying``), so a plain entry is one someone
rewrote without the key. A service run without a key writes and checks
plain SHA-256 entries (``legacy_entries``), which only show accidents.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
KEYED = "hmac-sha256"
PLAIN = "sha256"


def canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(previous_hash: str, content: Mapping[str, Any], key: bytes | None = None) -> str:
    """The keyed hash with ``key``; the legacy plain SHA-256 without one."""
    message = f"{previous_hash}\n{canonical(content)}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_mac(key: bytes, capa_id: str, sequence: int, last_hash: str) -> str:
    # "head" keeps this domain apart from entry hashes: no entry hash is a valid head.
    message = f"head\n{capa_id}\n{sequence}\n{last_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_value(key: bytes, capa_id: str, sequence: int, last_hash: str) -> str:
    """What the CAPA row stores as its audit head: ``<sequence>:<mac>``."""
    return f"{sequence}:{head_mac(key, capa_id, sequence, last_hash)}"


@dataclass(frozen=True)
class ChainedEntry:
    sequence: int
    content: Mapping[str, Any]
    previous_hash: str
    hash: str
    # KEYED, or PLAIN/None for an entry written without a key.
    scheme: str | None = None


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    entries: int
    first_broken_sequence: int | None = None
    problem: str | None = None
    # Entries checked as plain SHA-256 (written before the key existed).
    legacy_entries: int = 0
    # Whether the chain's length was checked against its keyed head.
    head_checked: bool = False


def verify_chain(entries: Iterable[ChainedEntry], *, key: bytes | None = None,
                 capa_id: str = "", head: str | None = None) -> ChainReport:
    """Check entries in sequence order and the chain's end against ``head``;
    report the first thing that does not fit.

    With ``key`` every entry must be keyed and the head must match. Without
    one (a service run without ``CAPA_AUDIT_KEY``) plain entries are checked
    as SHA-256 and counted as legacy; keyed ones cannot be checked.
    """
    expected_previous = GENESIS
    count = legacy = 0
    for count, entry in enumerate(entries, start=1):
        problem = _entry_problem(entry, count, expected_previous, key)
        if problem is not None:
            return ChainReport(False, count, entry.sequence, problem, legacy)
        legacy += entry.scheme != KEYED
        expected_previous = entry.hash
    return _check_head(count, expected_previous, legacy, key=key, capa_id=capa_id, head=head)


def _entry_problem(entry: ChainedEntry, position: int, expected_previous: str,
                   key: bytes | None) -> str | None:
    if entry.sequence != position:
        return f"entry {position} is missing (found sequence {entry.sequence})"
    if entry.previous_hash != expected_previous:
        return "its previous_hash does not match the entry before it"
    if entry.scheme == KEYED and key is None:
        return "it is keyed but this service has no CAPA_AUDIT_KEY to check it"
    if entry.scheme != KEYED and key is not None:
        return ("it is not keyed: rewritten without the key (chains from before the key "
                "are keyed by the migration)")
    if not hmac.compare_digest(entry_hash(entry.previous_hash, entry.content, key),
                               entry.hash):
        return "its content does not match its hash (it was altered or re-hashed)"
    return None


def _check_head(count: int, last_hash: str, legacy: int, *, key: bytes | None,
                capa_id: str, head: str | None) -> ChainReport:
    if count == 0:
        # Opening a CAPA writes its first entry in the same transaction: a CAPA
        # without any entry had its whole trail deleted.
        return ChainReport(False, 0, 1, "the CAPA has no audit entries: its whole trail "
                           "was removed", legacy)
    if key is None:
        if head is not None:
            return ChainReport(False, count, None, "the chain has a keyed head but this "
                               "service has no CAPA_AUDIT_KEY to check it", legacy)
        return ChainReport(True, count, None, None, legacy)
    if head is None:
        return ChainReport(False, count, None, "the CAPA has no audit head (it was removed)",
                           legacy)
    sequence_text, _, mac = head.partition(":")
    if not sequence_text.isdigit():
        return ChainReport(False, count, None, "the CAPA's audit head is malformed", legacy)
    sequence = int(sequence_text)
    if sequence != count:
        what = ("entries after it were removed" if sequence > count
                else "entries were added without the key")
        return ChainReport(False, count, min(sequence, count) + 1,
                           f"the chain ends at entry {count} but its head says {sequence}: "
                           f"{what}", legacy)
    if not hmac.compare_digest(head_mac(key, capa_id, count, last_hash), mac):
        return ChainReport(False, count, count, "the last entry does not match the CAPA's "
                           "keyed head (the chain was replaced or rolled back)", legacy)
    return ChainReport(True, count, None, None, legacy, head_checked=True)

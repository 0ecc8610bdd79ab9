"""The audit trail is a hash chain: each entry's hash covers its content and the
hash of the entry before it, so editing or removing any entry breaks every
hash after it."""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(previous_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{previous_hash}\n{canonical(content)}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainedEntry:
    sequence: int
    content: Mapping[str, Any]
    previous_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    entries: int
    first_broken_sequence: int | None = None
    problem: str | None = None


def verify_chain(entries: Iterable[ChainedEntry]) -> ChainReport:
    """Check entries in sequence order; report the first that does not fit."""
    expected_previous = GENESIS
    count = 0
    for count, entry in enumerate(entries, start=1):
        if entry.sequence != count:
            return ChainReport(False, count, entry.sequence,
                               f"entry {count} is missing (found sequence {entry.sequence})")
        if entry.previous_hash != expected_previous:
            return ChainReport(False, count, entry.sequence,
                               "its previous_hash does not match the entry before it")
        if entry_hash(entry.previous_hash, entry.content) != entry.hash:
            return ChainReport(False, count, entry.sequence,
                               "its content does not match its hash (it was altered)")
        expected_previous = entry.hash
    return ChainReport(True, count)

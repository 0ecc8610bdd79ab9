"""Suppliers (ISO 9001 8.4): the register's rules. Pure Python.

A supplier is named everywhere by a short code (``acme-seals``): NCs, CAPAs,
SCARs and the scorecards meet on it, and people type it, so it has one
canonical form (shared.supplier_code, since the nonconformity service stores
codes too) and two spellings of one code ("ACME Seals", "acme_seals") are the
same supplier.
"""

from collections.abc import Iterable

from shared.errors import Invalid
from shared.identity import tolerant_identity
from shared.supplier_code import (
    CODE_INPUT_PATTERN,
    CODE_MAX,
    CODE_MIN,
    CODE_PATTERN,
    InvalidCode,
    canonical_code,
)
from shared.vocabulary import SupplierCriticality

__all__ = ["CODE_INPUT_PATTERN", "CODE_MAX", "CODE_MIN", "CODE_PATTERN", "InvalidCode",
           "SupplierCriticality", "canonical_code"]

# The problem type of a contact listed twice: the schema cannot say that two
# addresses in one list are one address in another spelling, so clients (and the
# project's fuzz test) can tell this refusal from a malformed request.
DUPLICATE_CONTACT = "urn:capaflow:problem:duplicate-contact"


def same_address(a: str, b: str) -> bool:
    """Two contact addresses are one mailbox: compared in the canonical form the
    schema stores (shared.identity), so rows written before it was stored that way
    compare the same too."""
    return tolerant_identity(a) == tolerant_identity(b)


def check_unique_contacts(emails: Iterable[str]) -> None:
    """A supplier lists each address once: a second contact with the same address
    (in any spelling) would make "send to" ambiguous, so it is refused, not merged."""
    seen: list[str] = []
    errors = []
    for i, email in enumerate(emails):
        if any(same_address(email, earlier) for earlier in seen):
            errors.append((f"contacts.{i}.email",
                           f"{email} is already a contact of this supplier; list it once"))
        seen.append(email)
    if errors:
        raise Invalid("A supplier lists each contact's address once.", errors,
                      title="Duplicate contact", type_uri=DUPLICATE_CONTACT)


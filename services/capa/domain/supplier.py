"""Suppliers (ISO 9001 8.4): the register's rules. Pure Python.

A supplier is named everywhere by a short code (``acme-seals``): NCs, CAPAs,
SCARs and the scorecards meet on it, and people type it, so it has one
canonical form (shared.supplier_code, since the nonconformity service stores
codes too) and two spellings of one code ("ACME Seals", "acme_seals") are the
same supplier.
"""

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


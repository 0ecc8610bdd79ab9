"""API models of the supplier register and SCARs (``XCreate / XUpdate / XPublic``).

Requests forbid unknown fields. Supplier codes are taken in any spelling the
pattern admits and stored canonical (domain.supplier)."""

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from shared.evidence.attach import EvidencePublic
from shared.identity import canonical_identity
from shared.inputs import IsoDate
from shared.text import ONE_LINE, SOME_VISIBLE
from shared.vocabulary import ScarStatus

from .domain.supplier import CODE_INPUT_PATTERN, CODE_MAX, SupplierCriticality, canonical_code
from .request_rules import _without_null, not_null


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


SupplierCode = Annotated[str, StringConstraints(min_length=2, max_length=CODE_MAX,
                                                pattern=CODE_INPUT_PATTERN),
                         AfterValidator(canonical_code)]
# An address a mail server takes: ASCII, one @, a dotted domain. Deliberately
# plain (no quoted local parts, no IP literals): it is typed from a supplier's
# letterhead, and anything odd is more likely a mistake than an address.
_LOCAL, _DOMAIN = "A-Za-z0-9.!#$%&'*+/=?^_`{|}~-", "A-Za-z0-9"


def _typed(ascii_class: str) -> str:
    """A character class of ASCII characters plus their full-width forms (an East
    Asian keyboard's), which NFKC folds back: one address however it was typed."""
    chars = [chr(c) for c in range(0x21, 0x7F) if re.fullmatch(f"[{ascii_class}]", chr(c))]
    chars += [chr(ord(c) + 0xFEE0) for c in chars]
    return "[" + "".join("\\" + c if c in "\\[]^-" else c for c in chars) + "]"


# The schema admits the address with spaces around it and in full-width letters;
# the server keeps one canonical form (shared.identity: NFKC, case-folded, trimmed),
# so " Jana@ACME.example " and "jana@acme.example" are one contact.
EMAIL_PATTERN = (rf"^ *{_typed(_LOCAL)}+{_typed('@')}(?:{_typed(_DOMAIN)}(?:"
                 rf"{_typed(_DOMAIN + '-')}{{0,61}}{_typed(_DOMAIN)})?{_typed('.')})+"
                 rf"{_typed('A-Za-z')}{{2,63}} *$")
Email = Annotated[str, StringConstraints(min_length=6, max_length=254, pattern=EMAIL_PATTERN),
                  AfterValidator(canonical_identity)]
ContactName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=200, pattern=ONE_LINE)]
# A supplier's name and what it supplies: one line each (shared.text.ONE_LINE),
# as they go into the SCAR's e-mail, the register's CSV and every page.
SupplierName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=300, pattern=ONE_LINE)]
Supplies = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=10_000, pattern=ONE_LINE)]
# A supplier's or engineer's text in a SCAR: shorter than a CAPA's long texts,
# it is read in a form and an e-mail.
ScarText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=5_000, pattern=SOME_VISIBLE)]


class Contact(Request):
    name: ContactName
    email: Email


Contacts = Annotated[list[Contact], Field(max_length=10)]


class SupplierCreate(Request):
    code: SupplierCode = Field(description="Short unique code; stored lower-case with "
                                           "words joined by '-' (\"ACME Seals\" -> acme-seals)")
    name: SupplierName
    supplies: Supplies | None = Field(default=None, description="What they supply")
    criticality: SupplierCriticality
    contacts: Contacts = Field(default_factory=list)


class SupplierUpdate(Request):
    name: Annotated[SupplierName | None, _without_null(SupplierName)] = None
    supplies: Supplies | None = None
    criticality: Annotated[SupplierCriticality | None,
                           _without_null(SupplierCriticality)] = None
    # Not _without_null: its schema would name Contact by a $ref of its own.
    contacts: Contacts | SkipJsonSchema[None] = None

    def model_post_init(self, _: Any) -> None:
        for name in ("name", "criticality", "contacts"):
            if name in self.model_fields_set:
                not_null(getattr(self, name))


class SupplierPublic(BaseModel):
    id: UUID
    code: str
    name: str
    supplies: str | None
    criticality: SupplierCriticality
    contacts: list[Contact]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class SupplierPage(BaseModel):
    items: list[SupplierPublic]
    next_cursor: str | None = Field(description="The last code of this page; pass it as "
                                                "cursor for the next")


# -- SCARs --------------------------------------------------------------------------------

class ScarCreate(Request):
    supplier_code: SupplierCode
    contact_email: Email = Field(description="One of the supplier's registered contacts")
    due_date: IsoDate = Field(description="From today up to a year ahead")
    request: ScarText = Field(description="What you ask of the supplier; shown on the "
                                          "response form and in the e-mail")


# service.scars.decide_scar: a rejection says why (and may move the due date); an
# acceptance moves no due date.
REJECT_NEEDS_REASON: dict[str, Any] = {
    "if": {"properties": {"decision": {"const": "reject"}}, "required": ["decision"]},
    "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}},
    "else": {"properties": {"due_date": {"type": "null"}}}}


class ScarDecision(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra=REJECT_NEEDS_REASON)

    decision: Literal["accept", "reject"]
    reason: ScarText | None = None
    # A rejected SCAR may get a new due date for the next response.
    due_date: IsoDate | None = None


class ScarRevocation(Request):
    reason: ScarText


class WhyAnswer(Request):
    why: ScarText
    because: ScarText


class PlannedActionInput(Request):
    description: ScarText
    due_date: IsoDate


class ScarResponseInput(Request):
    """The supplier's response as it stands; every field may be missing in a draft."""

    containment: ScarText | None = None
    problem_statement: ScarText | None = None
    whys: list[WhyAnswer] = Field(default_factory=list, max_length=10)
    root_cause: ScarText | None = None
    corrective_actions: list[PlannedActionInput] = Field(default_factory=list, max_length=20)


class ScarResponseContent(BaseModel):
    containment: str | None = None
    problem_statement: str | None = None
    whys: list[dict[str, str]] = []
    root_cause: str | None = None
    corrective_actions: list[dict[str, str]] = []


EmailStatus = Literal["sent", "failed", "not_configured"]


class ScarPublic(BaseModel):
    """A SCAR as the CAPA's people see it: the supplier's *submitted* response only
    (a draft is the supplier's own until they submit it)."""

    id: UUID
    number: str
    capa_id: UUID
    supplier_code: str
    contact_name: str
    contact_email: str
    request: str
    due_date: date
    status: ScarStatus
    overdue: bool
    link_expires_at: datetime
    response: ScarResponseContent | None
    submissions: int
    responded_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    sent_by: str
    sent_at: datetime
    evidence: list[EvidencePublic]
    version: int
    # Set on the answer to sending (or re-sending) the link: whether the e-mail left.
    email_status: EmailStatus | None = None
    email_error: str | None = None


class ScarFile(EvidencePublic):
    """A file of the supplier's response, as the supplier sees it."""

    submitted: bool = Field(description="Part of a submitted response: the engineer sees "
                                        "it and it stays; a file not yet submitted is the "
                                        "supplier's draft, which they may remove")


class ScarForSupplier(BaseModel):
    """What the response link shows: the request, the state, the supplier's own
    response (draft or submitted) and files. Nothing internal of the CAPA."""

    number: str
    supplier_code: str
    supplier_name: str = Field(description="The supplier's name in the register (shown "
                                           "when the link is opened)")
    request: str
    due_date: date
    status: ScarStatus
    overdue: bool
    editable: bool
    response: ScarResponseContent
    draft_saved_at: datetime | None
    submissions: int
    responded_at: datetime | None
    decision_reason: str | None = Field(description="Why the last response was rejected "
                                                    "(or a note with the acceptance)")
    evidence: list[ScarFile]
    link_expires_at: datetime


class ScorecardPublic(BaseModel):
    rank: int = Field(description="1 = needs attention most (most NCs, open items, "
                                  "slowest response)")
    supplier_code: str
    name: str | None = Field(description="From the register; null for a code only NCs name")
    criticality: str | None
    nonconformities: int = Field(description="NCs naming the supplier reported in the period")
    repeat_rate: float | None = Field(description="Share of those within 90 days after an "
                                                  "earlier NC of the supplier")
    scars_sent: int
    median_response_days: float | None = Field(description="Sending to first response, over "
                                                           "the period's SCARs")
    on_time_closure: float | None = Field(description=(
        "Share accepted by their due date of the period's SCARs that can be judged: "
        "accepted on time, or due within the period and past due"))
    open_items: int = Field(description="SCARs and CAPAs naming the supplier that were open "
                                        "at the period's end")


class ScorecardReport(BaseModel):
    since: datetime
    until: datetime
    items: list[ScorecardPublic]

"""The words a person reads for the vocabulary values an e-mail shows.

The labels are the contract's own (shared.vocabulary_labels), the same the web
UI shows, so an e-mail and the page it links to agree. Webhooks get the raw
values: only the human text uses these words. The tables the service keeps
here are its own: an effectiveness result and a triage decision are not in
the published vocabulary.
"""

from collections.abc import Mapping

from shared import vocabulary_labels as labels

SEVERITY = labels.SEVERITY
SOURCE = labels.SOURCE
CAPA_STATUS = labels.CAPA_STATUS
SCAR_STATUS = labels.SCAR_STATUS
CAUSE = labels.CAUSE
ACTION_KIND = labels.ACTION_KIND
RESULT: Mapping[str, str] = {"effective": "Effective", "not_effective": "Not effective"}
# A triage decision (nonconformity.triaged's "decision"), in either spelling.
DECISION: Mapping[str, str] = {
    "accepted": "Accepted", "accept": "Accepted", "rejected": "Rejected", "reject": "Rejected",
    "duplicate": "Duplicate"}


def words(value: object, table: Mapping[str, str]) -> str:
    """The words of one value; a value the table does not know yet (a newer
    service) in words too, never as ``in_progress``."""
    text = str(value)
    return table.get(text) or text.replace("_", " ").capitalize()


# --- Event names, objectives and escalations (issue 15's review e-mails) ---

# The aggregate of an event type (its second segment) as a subject names it:
# "capaflow.management_review.recorded.v1" reads "Management review recorded".
AGGREGATE: Mapping[str, str] = {
    "capa": "CAPA", "nonconformity": "Nonconformity", "lesson": "Lesson", "scar": "SCAR",
    "lessons": "Lessons", "supplier": "Supplier", "objective": "Quality objective",
    "management_review": "Management review", "review_decision": "Management review decision",
    "notification": "Notification"}
# What happened (its third segment), where the plain replacement of "_" reads badly.
HAPPENED: Mapping[str, str] = {
    "off_track": "off track", "on_track": "back on track", "due_soon": "due soon",
    "dead_lettered": "could not be delivered", "made": "made"}
DIRECTION: Mapping[str, str] = {"at_most": "at most", "at_least": "at least"}
# An objective's metric, for events recorded before they carried its label.
METRIC: Mapping[str, str] = {
    "median_days_to_close": "Median days to close", "overdue_capas": "Overdue CAPAs",
    "open_capas": "Open CAPAs", "reopen_rate": "Repeat (reopen) rate",
    "effectiveness_rate": "Effectiveness rate",
    "capas_opened_per_week": "CAPAs opened per week"}
# Why the escalation policy asked for a CAPA (nonconformity.escalated's "reason").
ESCALATION_REASON: Mapping[str, str] = {
    "severity": "Its severity", "recurrence": "It recurred",
    "audit_finding": "It is an audit finding"}


def event_words(event_type: str) -> str:
    """``capaflow.capa.action_due_soon.v1`` -> "CAPA action due soon": never a raw
    segment with an underscore, also for a type this table does not know yet."""
    parts = event_type.split(".")
    if len(parts) < 4:
        return event_type.replace("_", " ")
    aggregate = AGGREGATE.get(parts[1]) or parts[1].replace("_", " ").capitalize()
    return f"{aggregate} {HAPPENED.get(parts[2]) or parts[2].replace('_', ' ')}"


def measure(value: object, unit: str | None) -> str:
    """A figure with its unit: 0.25 ratio -> "25 %", 12.5 days -> "12.5 days"."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if unit == "ratio":
        return f"{value * 100:.1f} %".replace(".0 %", " %")
    number = f"{value:.2f}".rstrip("0").rstrip(".")
    suffix = {"days": " day" if value == 1 else " days", "per_week": " per week"}
    return number + suffix.get(unit or "", "")


def known(value: object, table: Mapping[str, str]) -> str:
    """The words of a value that may be free text: a known value in words,
    anything else as it is (a person's reason is not re-capitalized)."""
    return table.get(str(value), str(value))
SUPPLIER_CRITICALITY = labels.SUPPLIER_CRITICALITY

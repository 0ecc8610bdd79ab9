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

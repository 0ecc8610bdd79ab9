"""Field-level changes of audit entries, derived from before/after (domain/audit_changes.py)."""

from services.capa.domain.audit_changes import FieldChange, field_changes


def test_an_edit_lists_each_changed_field_old_and_new() -> None:
    assert field_changes("updated", {"owner": None, "due_date": "2027-01-10"},
                         {"owner": "erin", "due_date": "2027-01-20"}) == [
        FieldChange("owner", None, "erin"), FieldChange("due_date", "2027-01-10", "2027-01-20")]


def test_identifiers_unchanged_fields_and_empty_values_are_not_changes() -> None:
    assert field_changes("action_updated", {"action_id": "a1", "status": "planned"},
                         {"action_id": "a1", "status": "done"}) == [
        FieldChange("status", "planned", "done")]
    # A first draft: only what was filled in (None, "" and [] are all "nothing").
    assert field_changes("root_cause_saved", None, {
        "problem_statement": "Leaks", "root_cause": None, "contributing_factors": [],
        "short_chain_justification": ""}) == [FieldChange("problem_statement", None, "Leaks")]


def test_a_field_the_edit_removed_is_listed_after_the_others() -> None:
    assert field_changes("status_changed", {"status": "verifying", "reopen_count": 0},
                         {"status": "investigating"}) == [
        FieldChange("status", "verifying", "investigating"),
        FieldChange("reopen_count", 0, None)]


def test_records_that_are_created_not_edited_list_no_changes() -> None:
    for action in ("opened", "action_added", "evidence_attached", "signed", "reminded",
                   "effectiveness_verified", "nonconformity_linked", "overdue"):
        assert field_changes(action, None, {"title": "x"}) == []

"""Audit entries in words (pages/audit_wording.py)."""

from services.web.pages.audit_wording import change_lines, change_summary, plural


def test_plurals() -> None:
    assert [plural(n, "entry") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert plural(1, "action") == "1 action" and plural(3, "action") == "3 actions"
    assert plural(2, "day") == "2 days" and plural(2, "box") == "2 boxes"


def test_changes_are_named_and_empty_values_shown_as_a_dash() -> None:
    entry = {"action": "updated", "changes": [
        {"field": "owner", "old": None, "new": "erin"},
        {"field": "due_date", "old": "2027-01-10", "new": "2027-01-20"}]}
    assert change_summary(entry) == "Owner: \u2013 → erin; Due date: 2027-01-10 → 2027-01-20"


def test_statuses_categories_whys_and_long_text_in_words() -> None:
    entry = {"changes": [
        {"field": "status", "old": "verifying", "new": "investigating"},
        {"field": "cause_category", "old": None, "new": "materials_supplier"},
        {"field": "whys", "old": [{"why": "a", "because": "b"}],
         "new": [{"why": "a", "because": "b"}] * 3},
        {"field": "root_cause", "old": None, "new": "x" * 200},
        {"field": "contributing_factors", "old": [], "new": ["heat", "new supplier"]}]}
    lines = change_lines(entry)
    assert lines[0] == "Status: Verifying effectiveness → Investigating (root cause)"
    assert lines[1] == "Cause category: \u2013 → Materials and suppliers"
    assert lines[2] == "5 Whys: 1 level → 3 levels"
    assert lines[3].startswith("Root cause: \u2013 → xxx") and lines[3].endswith("…")
    assert len(lines[3]) < 120
    assert lines[4] == "Contributing factors: \u2013 → heat; new supplier"
    assert change_lines({"action": "opened"}) == []


def test_the_analysis_status_is_not_the_capa_status() -> None:
    """A root-cause save changes the analysis's status (draft, submitted), an action
    update the action's: each named as its own, not "Status" like a CAPA move."""
    saved = {"action": "root_cause_saved",
             "changes": [{"field": "status", "old": None, "new": "draft"}]}
    submitted = {"action": "root_cause_submitted",
                 "changes": [{"field": "status", "old": "draft", "new": "submitted"}]}
    action = {"action": "action_updated",
              "changes": [{"field": "status", "old": "planned", "new": "in_progress"}]}
    assert change_lines(saved) == ["Analysis: \u2013 → Draft"]
    assert change_lines(submitted) == ["Analysis: Draft → Submitted"]
    assert change_lines(action) == ["Action status: Planned → In progress"]

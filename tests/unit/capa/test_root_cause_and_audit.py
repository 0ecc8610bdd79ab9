"""5-Whys submission rules, the audit hash chain, and the management-review figures."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.capa.domain import CapaStatus, EffectivenessResult
from services.capa.domain.audit_chain import (
    GENESIS,
    ChainedEntry,
    entry_hash,
    verify_chain,
)
from services.capa.domain.review import CapaSnapshot, Verification, age_bucket, pareto, summarize
from services.capa.domain.root_cause import CauseCategory, RootCauseForm, Why, submission_errors

THREE = (Why("Why leak?", "Gasket hard"), Why("Why hard?", "Wrong compound"),
         Why("Why compound?", "Spec silent on temperature"))
COMPLETE = RootCauseForm(problem_statement="Seals leak", whys=THREE,
                         root_cause="Spec omits temperature",
                         cause_category=CauseCategory.materials_supplier)


def _fields(form: RootCauseForm) -> list[str]:
    return [f for f, _ in submission_errors(form)]


@pytest.mark.requirement("iso9001-10.2.1b", "iso13485-8.5.2b", "cfr820-100a2")
def test_a_complete_analysis_can_be_submitted() -> None:
    assert submission_errors(COMPLETE) == []


@pytest.mark.requirement("iso13485-8.5.2b", "cfr820-100a2")
def test_fewer_than_three_whys_need_a_justification() -> None:
    short = replace(COMPLETE, whys=THREE[:2])
    assert _fields(short) == ["whys"]
    assert _fields(replace(short, short_chain_justification="   ")) == ["whys"]
    assert _fields(replace(short, short_chain_justification="Obvious from the log")) == []
    assert _fields(replace(COMPLETE, whys=())) == ["whys"]


@pytest.mark.requirement("iso13485-8.5.2b")
def test_missing_parts_are_named() -> None:
    empty = RootCauseForm()
    assert _fields(empty) == ["problem_statement", "whys", "root_cause", "cause_category"]
    blank_level = replace(COMPLETE, whys=(*THREE, Why("Why?", " ")))
    assert _fields(blank_level) == ["whys.3"]


def _chain(n: int) -> list[ChainedEntry]:
    entries, previous = [], GENESIS
    for i in range(1, n + 1):
        content = {"sequence": i, "actor": "alice", "action": "updated", "after": {"n": i}}
        digest = entry_hash(previous, content)
        entries.append(ChainedEntry(sequence=i, content=content, previous_hash=previous,
                                    hash=digest))
        previous = digest
    return entries


@pytest.mark.requirement("part11-11.10e")
def test_an_intact_chain_verifies() -> None:
    report = verify_chain(_chain(5))
    assert report.valid and report.entries == 5 and report.first_broken_sequence is None
    # A CAPA's trail starts with its opening entry: none at all is a removed trail.
    empty = verify_chain([])
    assert not empty.valid and empty.first_broken_sequence == 1


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
def test_altered_content_is_detected_at_that_entry() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], content={**entries[2].content, "actor": "mallory"})
    report = verify_chain(entries)
    assert not report.valid and report.first_broken_sequence == 3
    assert "altered" in (report.problem or "")


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
def test_a_rehashed_entry_still_breaks_the_next_link() -> None:
    entries = _chain(5)
    forged = {**entries[1].content, "actor": "mallory"}
    entries[1] = replace(entries[1], content=forged,
                         hash=entry_hash(entries[1].previous_hash, forged))
    assert verify_chain(entries).first_broken_sequence == 3


@pytest.mark.requirement("part11-11.10e", "part11-11.10a")
def test_a_removed_entry_is_detected() -> None:
    entries = _chain(5)
    del entries[1]
    report = verify_chain(entries)
    assert not report.valid and report.first_broken_sequence == 3


def test_hash_depends_on_the_predecessor() -> None:
    content = {"a": 1}
    assert entry_hash(GENESIS, content) != entry_hash("f" * 64, content)
    assert entry_hash(GENESIS, {"a": 1, "b": 2}) == entry_hash(GENESIS, {"b": 2, "a": 1})


NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _snap(status: CapaStatus, opened_days_ago: int, *, closed_days_ago: int | None = None,
          reopen: int = 0, source: str = "support", category: str | None = None,
          due: date = date(2027, 1, 1)) -> CapaSnapshot:
    return CapaSnapshot(status=status, opened_at=NOW - timedelta(days=opened_days_ago),
                        closed_at=NOW - timedelta(days=closed_days_ago)
                        if closed_days_ago is not None else None,
                        due_date=due, reopen_count=reopen, source=source,
                        cause_category=category)


@pytest.mark.requirement("cfr820-100a7")
def test_review_figures_on_known_data() -> None:
    capas = [
        _snap(CapaStatus.open, 1),
        _snap(CapaStatus.verifying, 31, due=date(2026, 11, 1), source="audit",
              category="people"),
        _snap(CapaStatus.closed, 20, closed_days_ago=10, category="process"),
        _snap(CapaStatus.closed, 40, closed_days_ago=5, reopen=2, category="process"),
        _snap(CapaStatus.cancelled, 3),
        _snap(CapaStatus.closed, 400, closed_days_ago=380),  # outside the period
    ]
    checks = [Verification(EffectivenessResult.effective, NOW - timedelta(days=6)),
              Verification(EffectivenessResult.not_effective, NOW - timedelta(days=9)),
              Verification(EffectivenessResult.effective, NOW - timedelta(days=500))]
    figures = summarize(capas, checks, since=NOW - timedelta(days=60), until=NOW, now=NOW)
    assert figures["open_total"] == 2 and figures["overdue"] == 1
    assert figures["open_by_state"]["verifying"] == 1
    assert figures["open_by_age_days"] == {"0-30": 1, "31-60": 1, "61-90": 0, "91+": 0}
    assert figures["closed_in_period"] == 2
    assert figures["median_days_to_close"] == 22.5  # 10 and 35 days
    assert figures["effectiveness_rate"] == 0.5
    assert figures["reopen_rate"] == 0.5
    assert figures["opened_in_period"] == 5
    assert figures["nonconformity_sources"][0] == {"name": "support", "count": 4,
                                                   "cumulative_percent": 80.0}


def test_empty_period_has_no_rates() -> None:
    figures = summarize([], [], since=NOW - timedelta(days=1), until=NOW, now=NOW)
    assert figures["median_days_to_close"] is None
    assert figures["effectiveness_rate"] is None and figures["reopen_rate"] is None


@pytest.mark.requirement("cfr820-100a1", "cfr820-100a7")
def test_buckets_and_pareto() -> None:
    assert [age_bucket(d) for d in (0, 30, 31, 60, 61, 90, 91, 1000)] == [
        "0-30", "0-30", "31-60", "31-60", "61-90", "61-90", "91+", "91+"]
    assert pareto(["b", "a", "b", "c"]) == [
        {"name": "b", "count": 2, "cumulative_percent": 50.0},
        {"name": "a", "count": 1, "cumulative_percent": 75.0},
        {"name": "c", "count": 1, "cumulative_percent": 100.0}]

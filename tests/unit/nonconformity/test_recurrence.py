"""The escalation's pure decisions: what counts in the window, which earlier
NC's CAPA a recurrence joins, and the verdict built from both."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from services.nonconformity.domain import (
    CapaLink,
    EscalationPolicy,
    EscalationReason,
    decide,
)
from services.nonconformity.domain.recurrence import (
    CANDIDATES,
    RecurrencePool,
    WindowCounts,
    in_window,
    pick_capa_to_join,
    times_seen,
    window_start,
)
from shared.events.base import Severity

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
POLICY = EscalationPolicy(recurrence_threshold=3, recurrence_window=timedelta(days=30))
SINCE = NOW - timedelta(days=30)


@dataclass(frozen=True)
class Nc:
    """Just what the rules read of an NC (domain.ProblemRecord)."""

    created_at: datetime = NOW
    fingerprint: str | None = None
    recurrence_key: str | None = None
    capa_link: CapaLink = CapaLink.none
    capa_id: UUID | None = None
    escalated_at: datetime | None = None
    severity: Severity = Severity.minor
    finding_type: str | None = None
    id: UUID = field(default_factory=uuid.uuid4)


def escalated(**fields: Any) -> Nc:
    return Nc(**{"capa_link": CapaLink.requested, "escalated_at": NOW} | fields)


def waiting(**fields: Any) -> Nc:
    """A recurrence that waits for another NC's CAPA: requested, never escalated itself."""
    return Nc(**{"capa_link": CapaLink.requested} | fields)


def with_open_capa(**fields: Any) -> Nc:
    return Nc(**{"capa_link": CapaLink.open, "capa_id": uuid.uuid4(), "escalated_at": NOW}
              | fields)


def test_the_window_starts_exactly_one_window_ago_and_its_first_moment_counts() -> None:
    assert window_start(POLICY, NOW) == SINCE
    assert in_window(SINCE, SINCE)
    assert not in_window(SINCE - timedelta(microseconds=1), SINCE)


def test_seen_is_the_larger_count_and_zero_without_either() -> None:
    assert times_seen() == 0
    assert times_seen(2, 5) == 5 and times_seen(4) == 4


def test_window_counts_add_only_what_falls_in_the_window() -> None:
    counts = WindowCounts(SINCE, {"fp-a": 2}, {"db|primary": 1})
    counts.add_occurrence("fp-a", SINCE)  # counts: the window's first moment
    counts.add_occurrence("fp-a", SINCE - timedelta(microseconds=1))  # does not
    counts.add_occurrence(None, NOW)  # an NC without fingerprint adds nothing
    assert counts.seen(Nc(fingerprint="fp-a")) == 3
    counts.add_nonconformity(Nc(recurrence_key="db|primary", created_at=NOW))
    counts.add_nonconformity(Nc(recurrence_key="db|primary", created_at=SINCE - timedelta(days=1)))
    assert counts.seen(Nc(recurrence_key="db|primary")) == 2
    # The larger of the two, whichever it is; unknown problems were never seen.
    assert counts.seen(Nc(fingerprint="fp-a", recurrence_key="db|primary")) == 3
    assert counts.seen(Nc(fingerprint="fp-z", recurrence_key="db|primary")) == 2
    assert counts.seen(Nc(fingerprint="fp-z")) == 0 and counts.seen(Nc()) == 0


def test_window_counts_do_not_share_the_dicts_they_were_given() -> None:
    by_fingerprint = {"fp-a": 1}
    WindowCounts(SINCE, by_fingerprint, {}).add_occurrence("fp-a", NOW)
    assert by_fingerprint == {"fp-a": 1}


def test_an_open_capa_beats_one_being_opened_even_when_older() -> None:
    newer, older = escalated(), with_open_capa(created_at=NOW - timedelta(days=3))
    assert pick_capa_to_join([newer, older]) is older


def test_of_capas_being_opened_the_escalated_nc_is_joined_not_a_waiting_one() -> None:
    wait, asked = waiting(), escalated(created_at=NOW - timedelta(days=1))
    assert pick_capa_to_join([wait, asked]) is asked
    assert pick_capa_to_join([wait]) is None and pick_capa_to_join([]) is None
    # "open" without a CAPA id yet is not a CAPA one can join.
    assert pick_capa_to_join([Nc(capa_link=CapaLink.open)]) is None


def test_the_pool_merges_both_lookups_newest_first_and_leaves_the_nc_itself_out() -> None:
    by_key = with_open_capa(recurrence_key="db|primary", created_at=NOW - timedelta(days=2))
    by_fingerprint = escalated(fingerprint="fp-a", created_at=NOW - timedelta(days=1))
    both = escalated(fingerprint="fp-a", recurrence_key="db|primary", created_at=NOW)
    closed = Nc(fingerprint="fp-a", capa_link=CapaLink.closed, capa_id=uuid.uuid4())
    pool = RecurrencePool([by_key, by_fingerprint, both, closed, both])  # "both" added twice
    probe = Nc(fingerprint="fp-a", recurrence_key="db|primary")
    assert pool.capa_of_recurrence(probe) is by_key  # the open one, found by its key
    assert pool.capa_of_recurrence(Nc(fingerprint="fp-a")) is both  # newest escalated
    # The NC itself is never its own earlier NC.
    assert pool.capa_of_recurrence(both) is by_key
    assert pool.capa_of_recurrence(Nc(fingerprint="fp-z")) is None
    assert pool.capa_of_recurrence(Nc()) is None


def test_only_the_newest_candidates_are_looked_at() -> None:
    oldest_open = with_open_capa(fingerprint="fp-a", created_at=NOW - timedelta(days=10))
    newer = [waiting(fingerprint="fp-a", created_at=NOW - timedelta(minutes=n))
             for n in range(CANDIDATES)]
    pool = RecurrencePool([oldest_open, *newer])
    assert pool.capa_of_recurrence(Nc(fingerprint="fp-a")) is None  # one too far back
    # An NC decided later joins the pool and is seen by the next lookup.
    pool.add(escalated(fingerprint="fp-a", created_at=NOW + timedelta(seconds=1)))
    found = pool.capa_of_recurrence(Nc(fingerprint="fp-a"))
    assert found is not None and found.escalated_at == NOW


def test_the_verdict_joins_an_open_capa_or_waits_for_one_being_opened() -> None:
    nc, open_other = Nc(fingerprint="fp-a"), with_open_capa(fingerprint="fp-a")
    verdict = decide(POLICY, nc, seen=5, other=open_other)
    assert verdict.decision.link_to == str(open_other.capa_id) and not verdict.decision.escalate
    assert verdict.open_other is open_other and verdict.seen == 5

    asked = escalated(fingerprint="fp-a")
    verdict = decide(POLICY, nc, seen=5, other=asked)
    assert verdict.decision.wait_for == str(asked.id) and verdict.open_other is None


def test_the_verdict_without_an_earlier_capa_follows_the_policy() -> None:
    assert decide(POLICY, Nc(), seen=2, other=None).decision.escalate is False
    recurring = decide(POLICY, Nc(), seen=3, other=None).decision
    assert recurring.escalate and recurring.reason is EscalationReason.recurrence
    serious = decide(POLICY, Nc(severity=Severity.critical), seen=1, other=None).decision
    assert serious.reason is EscalationReason.severity
    finding = decide(POLICY, Nc(finding_type="major_nc"), seen=1, other=None).decision
    assert finding.reason is EscalationReason.audit_finding
    # Never twice, and not while its own CAPA is asked for.
    assert not decide(POLICY, Nc(escalated_at=NOW, severity=Severity.critical), seen=9,
                      other=None).decision.escalate
    assert not decide(POLICY, waiting(), seen=9, other=None).decision.escalate

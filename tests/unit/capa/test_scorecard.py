"""Supplier scorecards at the edges of their period (domain.scorecard): a SCAR is
judged on time or missed only once it can be, and open items are those open at
the period's end."""

from datetime import UTC, date, datetime, timedelta

from services.capa.domain.scorecard import ScarFacts, judged, scorecard

# The period 2026-11-08 to 2026-12-07, both days included.
SINCE = datetime(2026, 11, 8, tzinfo=UTC)
UNTIL = datetime(2026, 12, 8, tzinfo=UTC)
SENT = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _scar(due: date, *, accepted: datetime | None = None,
          closed: datetime | None = None) -> ScarFacts:
    return ScarFacts(supplier_code="acme", sent_at=SENT, due_date=due,
                     first_responded_at=None, accepted_at=accepted,
                     closed_at=closed or accepted)


def _closure(scar: ScarFacts, today: date) -> float | None:
    return scorecard("acme", nc_times=[], earlier_nc=None, scars=[scar], open_capas=0,
                     since=SINCE, until=UNTIL, today=today).on_time_closure


def test_a_scar_due_on_the_periods_last_day_is_missed_only_once_that_day_has_passed() -> None:
    due = date(2026, 12, 7)
    assert _closure(_scar(due), today=due) is None  # the supplier has the whole day
    assert _closure(_scar(due), today=due + timedelta(days=1)) == 0.0


def test_a_scar_due_after_the_period_is_not_judged_in_it_even_once_late() -> None:
    tomorrow = date(2026, 12, 8)
    assert _closure(_scar(tomorrow), today=date(2026, 12, 7)) is None
    assert _closure(_scar(tomorrow), today=date(2027, 1, 10)) is None


def test_a_scar_accepted_on_time_counts_as_on_time_whenever() -> None:
    due_later = date(2026, 12, 20)  # due after the period, accepted before it was due
    scar = _scar(due_later, accepted=datetime(2026, 12, 1, tzinfo=UTC))
    assert judged(scar, until=UNTIL, today=date(2026, 12, 2))
    assert _closure(scar, today=date(2026, 12, 2)) == 1.0
    on_the_day = _scar(date(2026, 12, 1), accepted=datetime(2026, 12, 1, 23, tzinfo=UTC))
    assert _closure(on_the_day, today=date(2026, 12, 5)) == 1.0


def test_a_scar_answered_late_is_missed() -> None:
    late = _scar(date(2026, 11, 30), accepted=datetime(2026, 12, 3, tzinfo=UTC))
    assert _closure(late, today=date(2026, 12, 7)) == 0.0


def test_open_items_are_counted_at_the_periods_end() -> None:
    accepted_after = _scar(date(2026, 12, 1), accepted=datetime(2026, 12, 10, tzinfo=UTC))
    withdrawn_before = _scar(date(2026, 12, 1), closed=datetime(2026, 12, 2, tzinfo=UTC))
    still_open = _scar(date(2026, 12, 1))
    sent_later = ScarFacts(supplier_code="acme", sent_at=UNTIL + timedelta(days=1),
                           due_date=date(2027, 1, 5), first_responded_at=None,
                           accepted_at=None)
    card = scorecard("acme", nc_times=[], earlier_nc=None,
                     scars=[accepted_after, withdrawn_before, still_open, sent_later],
                     open_capas=2, since=SINCE, until=UNTIL, today=date(2027, 1, 1))
    # Open on 2026-12-07 at midnight's end: the one accepted later and the one still
    # open (not the withdrawn one, not one sent after), plus the CAPAs open then.
    assert card.open_items == 2 + 2
    assert card.scars_sent == 3

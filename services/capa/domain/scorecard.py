"""Supplier scorecards (ISO 9001 8.4.1: evaluate and monitor suppliers' performance)
for one period, and the ranking the management review reads. Pure Python.

The figures, per supplier:

- ``nonconformities``: NCs naming the supplier reported in the period.
- ``repeat_rate``: the share of those that came within ``REPEAT_WINDOW`` after an
  earlier NC of the same supplier (the same supplier failing again soon).
- ``scars_sent``: SCARs sent in the period.
- ``median_response_days``: from sending to the first submitted response, over the
  period's SCARs that have one.
- ``on_time_closure``: of the period's SCARs that can be judged, the share
  accepted by their due date (``judged``: one accepted on time counts whenever
  it was accepted; any other only once its due date lies in the period *and*
  has passed, so a SCAR not yet late never counts as missed).
- ``open_items``: SCARs and CAPAs naming the supplier that were open at the
  period's end (for the default period, which ends now: open now).

The ranking puts the suppliers that need attention first: most NCs, then most
open items, then the slowest response. The API refuses a period that does not
run forward (shared.periods); here such a period is simply empty.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from statistics import median

REPEAT_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class ScarFacts:
    supplier_code: str
    sent_at: datetime
    due_date: date
    first_responded_at: datetime | None
    accepted_at: datetime | None
    # When it was accepted or withdrawn (None while it is open: sent, responded,
    # or rejected and back with the supplier).
    closed_at: datetime | None = None

    def open_at(self, moment: datetime) -> bool:
        return self.sent_at < moment and (self.closed_at is None or self.closed_at >= moment)


@dataclass(frozen=True)
class Scorecard:
    supplier_code: str
    nonconformities: int
    repeat_rate: float | None
    scars_sent: int
    median_response_days: float | None
    on_time_closure: float | None
    open_items: int
    rank: int = 0


def repeats(reported: Sequence[datetime]) -> int:
    """How many NCs came within the window after the one before them."""
    ordered = sorted(reported)
    return sum(1 for before, after in pairwise(ordered)
               if after - before <= REPEAT_WINDOW)


def last_day(until: datetime) -> date:
    """The last day ``[since, until)`` covers: the day before a midnight end."""
    return (until - timedelta(microseconds=1)).date()


def judged(scar: ScarFacts, *, until: datetime, today: date) -> bool:
    """Whether a SCAR counts in ``on_time_closure`` (see the module doc): accepted
    by its due date, or due within the period and past due (due today is not late:
    the supplier has the whole day)."""
    if on_time(scar):
        return True
    return scar.due_date <= last_day(until) and scar.due_date < today


def on_time(scar: ScarFacts) -> bool:
    return scar.accepted_at is not None and scar.accepted_at.date() <= scar.due_date


def median_response_days(scars: Iterable[ScarFacts], since: datetime,
                         until: datetime) -> float | None:
    """Median days from sending to the first response, over the SCARs sent in
    ``[since, until)`` that have one (also the objective metric
    ``supplier_response_days``: domain.objectives)."""
    days = [(s.first_responded_at - s.sent_at).total_seconds() / 86400 for s in scars
            if since <= s.sent_at < until and s.first_responded_at is not None]
    return round(median(days), 1) if days else None


def scorecard(code: str, *, nc_times: Sequence[datetime], earlier_nc: datetime | None,
              scars: Iterable[ScarFacts], open_capas: int, since: datetime,
              until: datetime, today: date) -> Scorecard:
    """One supplier's figures; ``nc_times`` are the period's NCs, ``earlier_nc`` the
    last one before the period (a repeat may follow it), ``open_capas`` its CAPAs
    open at the period's end, ``today`` the day SCARs are judged late on."""
    in_period = [t for t in nc_times if since <= t < until]
    chain = ([earlier_nc] if earlier_nc is not None else []) + in_period
    all_scars = list(scars)
    sent = [s for s in all_scars if since <= s.sent_at < until]
    counted = [s for s in sent if judged(s, until=until, today=today)]
    return Scorecard(
        supplier_code=code, nonconformities=len(in_period),
        repeat_rate=round(repeats(chain) / len(in_period), 3) if in_period else None,
        scars_sent=len(sent),
        median_response_days=median_response_days(sent, since, until),
        on_time_closure=(round(sum(1 for s in counted if on_time(s)) / len(counted), 3)
                         if counted else None),
        open_items=sum(1 for s in all_scars if s.open_at(until)) + open_capas)


def ranked(cards: Iterable[Scorecard]) -> list[Scorecard]:
    """Worst first: most NCs, most open items, slowest median response, then by code."""
    def key(card: Scorecard) -> tuple[int, int, float, str]:
        return (-card.nonconformities, -card.open_items,
                -(card.median_response_days or 0.0), card.supplier_code)
    ordered = sorted(cards, key=key)
    return [Scorecard(**{**card.__dict__, "rank": i}) for i, card in enumerate(ordered, 1)]


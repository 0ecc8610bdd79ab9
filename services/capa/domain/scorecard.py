"""Supplier scorecards (ISO 9001 8.4.1: evaluate and monitor suppliers' performance)
for one period, and the ranking the management review reads. Pure Python.

The figures, per supplier:

- ``nonconformities``: NCs naming the supplier reported in the period.
- ``repeat_rate``: the share of those that came within ``REPEAT_WINDOW`` after an
  earlier NC of the same supplier (the same supplier failing again soon).
- ``scars_sent``: SCARs sent in the period.
- ``median_response_days``: from sending to the first submitted response, over the
  period's SCARs that have one.
- ``on_time_closure``: of the period's SCARs that are due by the period's end or
  already decided, the share accepted by their due date.
- ``open_items``: SCARs still open and CAPAs still open naming the supplier, now.

The ranking puts the suppliers that need attention first: most NCs, then most
open items, then the slowest response. A period that ends before it starts is
empty (its counts zero, its rates null), as the management-review figures
treat it: no schema can compare two parameters, so refusing it would be a rule
clients cannot see.
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
    open: bool


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


def scorecard(code: str, *, nc_times: Sequence[datetime], earlier_nc: datetime | None,
              scars: Iterable[ScarFacts], open_capas: int, since: datetime,
              until: datetime) -> Scorecard:
    """One supplier's figures; ``nc_times`` are the period's NCs, ``earlier_nc`` the
    last one before the period (a repeat may follow it)."""
    in_period = [t for t in nc_times if since <= t < until]
    chain = ([earlier_nc] if earlier_nc is not None else []) + in_period
    all_scars = list(scars)
    sent = [s for s in all_scars if since <= s.sent_at < until]
    responses = [(s.first_responded_at - s.sent_at).total_seconds() / 86400
                 for s in sent if s.first_responded_at is not None]
    judged = [s for s in sent if s.accepted_at is not None or s.due_date <= until.date()]
    on_time = [s for s in judged if s.accepted_at is not None
               and s.accepted_at.date() <= s.due_date]
    return Scorecard(
        supplier_code=code, nonconformities=len(in_period),
        repeat_rate=round(repeats(chain) / len(in_period), 3) if in_period else None,
        scars_sent=len(sent),
        median_response_days=round(median(responses), 1) if responses else None,
        on_time_closure=round(len(on_time) / len(judged), 3) if judged else None,
        open_items=sum(1 for s in all_scars if s.open) + open_capas)


def ranked(cards: Iterable[Scorecard]) -> list[Scorecard]:
    """Worst first: most NCs, most open items, slowest median response, then by code."""
    def key(card: Scorecard) -> tuple[int, int, float, str]:
        return (-card.nonconformities, -card.open_items,
                -(card.median_response_days or 0.0), card.supplier_code)
    ordered = sorted(cards, key=key)
    return [Scorecard(**{**card.__dict__, "rank": i}) for i, card in enumerate(ordered, 1)]


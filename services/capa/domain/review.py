"""Management-review figures (ISO 9001 9.3): how the CAPA process performs."""

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.vocabulary import CapaStatus

from .workflow import TERMINAL, EffectivenessResult

# Age of open CAPAs in days: (label, lower bound inclusive).
AGE_BUCKETS: Sequence[tuple[str, int]] = (("0-30", 0), ("31-60", 31), ("61-90", 61),
                                          ("91+", 91))


@dataclass(frozen=True)
class CapaSnapshot:
    status: CapaStatus
    opened_at: datetime
    closed_at: datetime | None
    due_date: date
    reopen_count: int
    source: str
    cause_category: str | None
    # Quality objectives count the CAPAs open at past moments (domain.objectives).
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class Verification:
    result: EffectivenessResult
    verified_at: datetime


def _in(moment: datetime | None, since: datetime, until: datetime) -> bool:
    return moment is not None and since <= moment < until


def age_bucket(days: int) -> str:
    label = AGE_BUCKETS[0][0]
    for name, lower in AGE_BUCKETS:
        if days >= lower:
            label = name
    return label


def pareto(values: Iterable[str]) -> list[dict[str, object]]:
    """Counts, largest first, with the cumulative share (the Pareto line)."""
    counts = Counter(values)
    total = sum(counts.values())
    rows: list[dict[str, object]] = []
    running = 0
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        running += count
        rows.append({"name": name, "count": count,
                     "cumulative_percent": round(100 * running / total, 1)})
    return rows


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(capas: Sequence[CapaSnapshot], verifications: Sequence[Verification], *,
              since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
    """Open CAPAs are counted as of ``now``; flows (closures, verifications,
    openings) within ``[since, until)``."""
    open_capas = [c for c in capas if c.status not in TERMINAL]
    by_state = {s.value: 0 for s in CapaStatus if s not in TERMINAL}
    by_age = {name: 0 for name, _ in AGE_BUCKETS}
    for capa in open_capas:
        by_state[capa.status.value] += 1
        by_age[age_bucket((now - capa.opened_at).days)] += 1
    closed = [c for c in capas if c.status == CapaStatus.closed
              and _in(c.closed_at, since, until)]
    days_to_close = [(c.closed_at - c.opened_at).total_seconds() / 86400
                     for c in closed if c.closed_at is not None]
    checks = [v for v in verifications if _in(v.verified_at, since, until)]
    opened = [c for c in capas if _in(c.opened_at, since, until)]
    return {
        "open_by_state": by_state,
        "open_by_age_days": by_age,
        "open_total": len(open_capas),
        "overdue": sum(1 for c in open_capas if c.due_date < now.date()),
        "opened_in_period": len(opened),
        "closed_in_period": len(closed),
        "median_days_to_close": (round(statistics.median(days_to_close), 1)
                                 if days_to_close else None),
        "effectiveness_checks": len(checks),
        "effectiveness_rate": _rate(
            sum(1 for v in checks if v.result is EffectivenessResult.effective), len(checks)),
        "reopen_rate": _rate(sum(1 for c in closed if c.reopen_count > 0), len(closed)),
        "root_cause_categories": pareto(c.cause_category for c in opened if c.cause_category),
        "nonconformity_sources": pareto(c.source for c in opened),
    }

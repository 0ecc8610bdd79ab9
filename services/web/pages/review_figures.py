"""The management review's figures, one panel per subject, each figure with its
previous-period value, its change, and a link to the list that holds exactly it.

A link's filters are the API filters the figure was counted with (the services
compute each figure with their list's own filter), given as the list page's
query: inclusive dates, as people read them. tests/e2e/test_web_review.py follows
every link and compares the list's total with the figure.

Figures of a period are compared with the previous period; counts "as of now"
(the untriaged backlog, open and overdue CAPAs, overdue actions) are a state the
services do not keep a history of, so they have no earlier value to show.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from shared.vocabulary import NonconformityStatus, Severity

from .review_period import Change, Kind, Period, change, show

SEVERITY_LABELS = {Severity.critical: "Critical", Severity.major: "Major",
                   Severity.minor: "Minor", Severity.observation: "Observation"}
NC_STATUS_LABELS = {NonconformityStatus.reported: "Reported, not yet triaged",
                    NonconformityStatus.accepted: "Accepted",
                    NonconformityStatus.rejected: "Rejected",
                    NonconformityStatus.duplicate: "Duplicate",
                    NonconformityStatus.closed: "Closed"}


@dataclass(frozen=True)
class Figure:
    key: str    # data-figure, stable for tests and scripts
    name: str   # the row header: what a screen reader announces with the number
    now: float | None
    before: float | None = None
    kind: Kind = "count"
    href: str | None = None
    before_href: str | None = None
    detail: str = ""
    detail_href: str | None = None

    @property
    def value(self) -> str:
        return show(self.now, self.kind)

    @property
    def before_value(self) -> str:
        return show(self.before, self.kind)

    @property
    def change(self) -> Change | None:
        return change(self.now, self.before, self.kind)


@dataclass
class Panel:
    key: str
    title: str
    in_period: list[Figure] = field(default_factory=list)
    as_of_now: list[Figure] = field(default_factory=list)
    error: str | None = None


def _link(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}"


def _days(period: Period, start: str = "since", end: str = "until") -> dict[str, str]:
    return {start: period.since.isoformat(), end: period.last_day.isoformat()}


def _get(figures: dict[str, Any] | None, *path: str) -> Any:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def nonconformity_panel(now: dict[str, Any] | None, before: dict[str, Any] | None,
                        period: Period, previous: Period | None, error: str | None) -> Panel:
    panel = Panel("nonconformities", "Nonconformities", error=error)
    if now is None:
        return panel

    def flow(key: str, name: str, path: tuple[str, ...], **filters: str) -> Figure:
        return Figure(key, name, _get(now, *path), _get(before, *path),
                      href=_link("/nonconformities", **filters, **_days(period)),
                      before_href=_link("/nonconformities", **filters, **_days(previous))
                      if previous else None)

    panel.in_period.append(flow("nc_reported", "Reported in the period",
                                ("reported_in_period",)))
    panel.in_period += [flow(f"nc_severity_{s.value}", f"Severity {label.lower()}",
                             ("by_severity", s.value), severity=s.value)
                        for s, label in SEVERITY_LABELS.items()]
    panel.in_period += [flow(f"nc_status_{s.value}", f"Now {label.lower()}",
                             ("by_status", s.value), status=s.value)
                        for s, label in NC_STATUS_LABELS.items()]
    backlog = now.get("untriaged") or {}
    detail, detail_href = "", None
    if backlog.get("oldest_id"):
        days = backlog.get("oldest_age_days")
        detail = (f"oldest: {backlog.get('oldest_number') or 'an NC'}, reported "
                  f"{days} day{'' if days == 1 else 's'} ago")
        detail_href = f"/nonconformities/{backlog['oldest_id']}"
    panel.as_of_now.append(Figure(
        "nc_untriaged", "Untriaged backlog", backlog.get("total"),
        href=_link("/nonconformities", status=NonconformityStatus.reported.value,
                   sort="created_at"),
        detail=detail, detail_href=detail_href))
    return panel


def capa_panel(now: dict[str, Any] | None, before: dict[str, Any] | None, period: Period,
               previous: Period | None, error: str | None) -> Panel:
    panel = Panel("capas", "CAPAs", error=error)
    if now is None:
        return panel

    def board(which: str, of: Period | None) -> str | None:
        if of is None:
            return None
        return _link("/capas", finished="1", **_days(of, f"{which}_from", f"{which}_to"))

    def flow(key: str, name: str, kind: Kind = "count", link: str | None = None,
             detail: str = "") -> Figure:
        return Figure(key, name, now.get(key), _get(before, key), kind=kind,
                      href=board(link, period) if link else None,
                      before_href=board(link, previous) if link else None, detail=detail)

    checks = now.get("effectiveness_checks")
    panel.in_period += [
        flow("opened_in_period", "Opened in the period", link="opened"),
        flow("closed_in_period", "Closed in the period", link="closed"),
        flow("median_days_to_close", "Median days to close (of those closed)", "days",
             link="closed"),
        flow("reopen_rate", "Reopen rate (of those closed)", "rate", link="closed"),
        flow("effectiveness_checks", "Effectiveness checks"),
        flow("effectiveness_rate", "Found effective (of the checks)", "rate",
             detail="" if checks else "no checks in the period"),
    ]
    panel.as_of_now += [
        Figure("open_total", "Open CAPAs", now.get("open_total"), href="/capas"),
        Figure("overdue", "Overdue CAPAs", now.get("overdue"), href="/capas?overdue=1"),
    ]
    return panel


def action_panel(now: dict[str, Any] | None, error: str | None) -> Panel:
    """Corrective and preventive actions of every CAPA (the capa service's figures)."""
    panel = Panel("actions", "Actions", error=error)
    if now is None:
        return panel
    overdue = now.get("overdue_actions") or {}
    oldest = overdue.get("oldest") or {}
    detail, detail_href = "", None
    if oldest:
        days = oldest.get("days_overdue")
        detail = (f"longest overdue: {oldest.get('capa_number')}, due {oldest.get('due_date')}"
                  f" ({days} day{'' if days == 1 else 's'} late)")
        detail_href = f"/capas/{oldest.get('capa_id')}#actions"
    panel.as_of_now.append(Figure("overdue_actions", "Overdue actions", overdue.get("total"),
                                  href="/actions?overdue=1", detail=detail,
                                  detail_href=detail_href))
    return panel


@dataclass(frozen=True)
class ParetoRow:
    """One bar of a Pareto (CAPAs opened in the period), linked to the board."""

    name: str
    count: int
    cumulative_percent: float
    href: str
    before: int | None
    before_href: str | None

    @property
    def change(self) -> Change | None:
        return change(self.count, self.before)


def pareto_rows(now: list[dict[str, Any]] | None, before: list[dict[str, Any]] | None,
                param: str, period: Period, previous: Period | None) -> list[ParetoRow]:
    """``param``: the CAPA list's filter the bar counts by (cause_category, source).
    A name the previous period did not have counted 0 there."""
    earlier = {str(r["name"]): int(r["count"]) for r in before or []}

    def board(name: str, of: Period) -> str:
        return _link("/capas", finished="1", **{param: name},
                     **_days(of, "opened_from", "opened_to"))

    return [ParetoRow(str(r["name"]), int(r["count"]), float(r["cumulative_percent"]),
                      board(str(r["name"]), period),
                      earlier.get(str(r["name"]), 0) if before is not None else None,
                      board(str(r["name"]), previous) if previous else None)
            for r in now or []]

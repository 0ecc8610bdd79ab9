"""The dashboard's quality-objectives panel: each objective's progress, its trend
as a small line and whether it is on track (the CAPA service's /v1/objectives).

A block of its own beside the review figures: dashboard.py asks for it and the
template includes dash_objectives.html, nothing else there depends on it.
"""

from typing import Any

from markupsafe import Markup

from ..client import ApiError, UserApi

WIDTH, HEIGHT, PAD = 120, 28, 3


def sparkline(values: list[float | None], target: float) -> Markup:
    """The trend as an inline SVG line with the target as a dashed line; only
    numbers go into it, so nothing needs escaping. Periods without a value are gaps."""
    known = [v for v in values if v is not None] + [target]
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD), 1)

    runs: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{round(PAD + i * step, 1)},{y(value)}")
    lines = "".join(f'<polyline points="{" ".join(run)}" fill="none" stroke="currentColor" '
                    f'stroke-width="1.5"/>' for run in runs if len(run) > 1)
    dots = "".join(f'<circle cx="{run[-1].split(",")[0]}" cy="{run[-1].split(",")[1]}" r="2"/>'
                   for run in runs[-1:] if run)
    target_y = y(target)
    return Markup(f'<svg class="sparkline" width="{WIDTH}" height="{HEIGHT}" '
                  f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-hidden="true" focusable="false">'
                  f'<line x1="0" x2="{WIDTH}" y1="{target_y}" y2="{target_y}" '
                  f'stroke="#888" stroke-dasharray="3 2"/>{lines}{dots}</svg>')


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "\u2013"  # an en dash, as the dashboard shows a missing figure
    if unit == "ratio":
        return f"{value * 100:.0f} %"
    return f"{value:g}"


async def objectives_panel(api: UserApi) -> tuple[list[dict[str, Any]], str | None]:
    """The objectives with their trend line, or why they cannot be shown."""
    try:
        answer = await api.get("capa", "/v1/objectives")
    except ApiError as exc:
        if exc.status == 401:
            raise
        return [], str(exc)
    items = []
    for objective in answer.get("items") or []:
        trend = [point.get("value") for point in objective["progress"]["trend"]]
        items.append(objective | {"line": sparkline(trend, float(objective["target"]))})
    return items, None

"""A period runs forward (shared/periods.py), a review meeting is recorded once
held (capa domain.review_meeting), and the fuzz test drops exactly these
refusals of schema-valid data (tests/e2e/fuzz_hooks.py)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.capa.domain.review_meeting import check_meeting
from services.capa.domain.scar import DATE_OUTSIDE_WINDOW
from shared.errors import Invalid
from shared.periods import PERIOD_NOT_FORWARD, check_forward, forward_period
from tests.e2e.fuzz_hooks import filter_failure

NOW = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def _refusal(check: Callable[..., object], *args: object, **kwargs: object) -> Invalid:
    with pytest.raises(Invalid) as caught:
        check(*args, **kwargs)
    return caught.value


def test_a_period_must_start_before_it_ends() -> None:
    check_forward(NOW, NOW + timedelta(microseconds=1))
    for until in (NOW, NOW - DAY):
        refused = _refusal(check_forward, NOW, until, field="query.since")
        assert refused.status == 422 and refused.type_uri == PERIOD_NOT_FORWARD
        assert [e["field"] for e in refused.extensions["errors"]] == ["query.since"]


def test_the_defaults_are_filled_in_before_the_check() -> None:
    length = timedelta(days=91)
    assert forward_period(None, None, now=NOW, default_length=length) == (NOW - length, NOW)
    assert forward_period(None, NOW - DAY, now=NOW, default_length=length) == \
        (NOW - DAY - length, NOW - DAY)
    # A since after now with no until runs backwards from now.
    refused = _refusal(forward_period, NOW + DAY, None, now=NOW, default_length=length)
    assert refused.type_uri == PERIOD_NOT_FORWARD


def test_a_meeting_is_recorded_once_held_with_a_day_of_slack() -> None:
    today = NOW.date()
    for held_on in (today + DAY, today, date(1900, 1, 1)):
        check_meeting(held_on=held_on, pack_since=NOW - DAY, pack_until=NOW, today=today)
    later = _refusal(check_meeting, held_on=today + 2 * DAY, pack_since=NOW - DAY,
                     pack_until=NOW, today=today)
    assert later.type_uri == DATE_OUTSIDE_WINDOW
    assert [e["field"] for e in later.extensions["errors"]] == ["held_on"]
    backwards = _refusal(check_meeting, held_on=today, pack_since=NOW,
                         pack_until=NOW - DAY, today=today)
    assert backwards.type_uri == PERIOD_NOT_FORWARD
    assert [e["field"] for e in backwards.extensions["errors"]] == ["pack.since"]


class _Response:
    def __init__(self, status_code: int, problem_type: str) -> None:
        self.status_code, self._type = status_code, problem_type

    def json(self) -> dict[str, str]:
        return {"type": self._type}


@pytest.mark.parametrize(("status", "problem_type", "kept"), [
    (422, PERIOD_NOT_FORWARD, False),
    (422, DATE_OUTSIDE_WINDOW, False),
    (422, "about:blank", True),
    (400, PERIOD_NOT_FORWARD, True),
])
def test_the_fuzz_test_drops_only_documented_refusals(status: int, problem_type: str,
                                                       kept: bool) -> None:
    rejected = SimpleNamespace(code="ST202")
    assert filter_failure(None, rejected, None, _Response(status, problem_type)) is kept
    # Any other kind of failure is always kept, whatever the response says.
    other = SimpleNamespace(code="ST201")
    assert filter_failure(None, other, None, _Response(status, problem_type)) is True

import pytest

from services.notifications.service.stream import StreamLimitReached, StreamSlots


def test_slots_are_counted_per_principal_and_released_once() -> None:
    slots = StreamSlots(per_principal=2)
    first = slots.take("ann", now=0, ends_by=300)
    slots.take("ann", now=10, ends_by=310)
    slots.take("bob", now=10, ends_by=310)
    with pytest.raises(StreamLimitReached) as refused:
        slots.take("ann", now=20, ends_by=320)
    # Ann's earliest stream ends by 300 at the latest: 280 s from now.
    assert refused.value.retry_after == 280
    first()
    first()  # a second release must not free somebody else's slot
    assert slots.open_streams("ann") == 1
    slots.take("ann", now=30, ends_by=330)
    assert slots.open_streams("ann") == 2
    with pytest.raises(StreamLimitReached):
        slots.take("ann", now=30, ends_by=330)


def test_retry_after_is_at_least_a_second() -> None:
    slots = StreamSlots(per_principal=1)
    slots.take("ann", now=0, ends_by=10)
    with pytest.raises(StreamLimitReached) as refused:
        slots.take("ann", now=9.9, ends_by=20)
    assert refused.value.retry_after == 1


def test_a_slot_never_released_is_freed_after_its_stream_deadline() -> None:
    slots = StreamSlots(per_principal=1)
    slots.take("ann", now=0, ends_by=300)  # its response never ran: no release
    with pytest.raises(StreamLimitReached):
        slots.take("ann", now=299, ends_by=599)
    slots.take("ann", now=301, ends_by=601)
    assert slots.open_streams("ann") == 1

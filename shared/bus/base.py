"""The bus interface both adapters implement and the contract tests exercise."""

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True)
class ReceivedRecord:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: Headers = ()

    def header(self, name: str) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


class RecordRefused(Exception):
    """The bus refuses this record for good (too large, invalid): sending it
    again can never succeed, unlike a broker outage or a timeout."""


class PartlyRefused(Exception):
    """What a publish call raises when the bus refused some of its records for good.

    ``refused`` maps a record's index in the call to the bus's error. Every
    record before index ``settled`` was either acknowledged or refused; from
    ``settled`` on the call failed transiently (``cause``): those records,
    acknowledged or not, must be sent again, in order.
    """

    def __init__(self, refused: dict[int, BaseException], *, settled: int,
                 cause: BaseException | None = None) -> None:
        first = refused[min(refused)]
        super().__init__(f"{len(refused)} record(s) refused, e.g. {type(first).__name__}: "
                         f"{first}" + (f"; then {type(cause).__name__}: {cause}"
                                       if cause is not None else ""))
        self.refused = refused
        self.settled = settled
        self.cause = cause


class Subscription(Protocol):
    """One consumer-group member. Records of a partition come in order."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Commits what was marked handled (best effort), then leaves the group."""
        ...

    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        """Up to ``max_records`` records after the last fetched; [] after ``timeout`` s."""
        ...

    async def commit(self, record: ReceivedRecord) -> None:
        """Mark ``record`` and all before it in its partition as done for the group."""
        ...

    def mark_handled(self, record: ReceivedRecord) -> None:
        """Remember ``record`` (and all before it in its partition) as handled, without
        I/O; :meth:`commit_handled`, a rebalance or :meth:`stop` commits it."""
        ...

    async def commit_handled(self) -> None:
        """Commit what :meth:`mark_handled` remembered, in one round trip."""
        ...

    async def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the head, per (topic, partition) this member reads."""
        ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Returns once the bus has durably acknowledged every record, in order
        per key; raises otherwise (the caller retries the whole batch).
        Records the bus refuses for good raise :class:`PartlyRefused`, which
        says which ones, and up to which record the rest was settled."""
        ...

    async def begin_publish(self, records: Sequence[OutgoingRecord], *,
                            after: Awaitable[None] | None = None) -> Awaitable[None]:
        """:meth:`publish` in two steps, to pipeline batches: hands the records to
        the bus in order and returns an awaitable that completes (or raises) as
        publish would. ``after`` is the caller's previous, still outstanding
        call: these records must not overtake it, so a bus that cannot promise
        that any more (its producer was replaced) raises without sending. When
        one call fails, the caller awaits every outstanding one before it
        publishes again, and retries from the failed call on."""
        ...

    def subscribe(self, *, group: str, topics: Sequence[str]) -> Subscription: ...

    async def ping(self) -> None:
        """Raises when the bus cannot be reached (used by /readyz)."""
        ...

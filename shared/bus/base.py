"""The bus interface both adapters implement and the contract tests exercise."""

from collections.abc import Sequence
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


class Subscription(Protocol):
    """One consumer-group member. Records of a partition come in order."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        """Up to ``max_records`` records after the last fetched; [] after ``timeout`` s."""
        ...

    async def commit(self, record: ReceivedRecord) -> None:
        """Mark ``record`` and all before it in its partition as done for the group."""
        ...

    async def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the head, per (topic, partition) this member reads."""
        ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Returns once the bus has durably acknowledged every record, in order
        per key; raises otherwise (the caller retries the whole batch)."""
        ...

    def subscribe(self, *, group: str, topics: Sequence[str]) -> Subscription: ...

    async def ping(self) -> None:
        """Raises when the bus cannot be reached (used by /readyz)."""
        ...

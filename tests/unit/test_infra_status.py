"""`deploy/infra.sh status` (kafka.sh / postgres.sh) reports the broker and the
cluster that THIS checkout started, on the port asked for — not whatever
answers there. Runs against fake brokers in a throwaway CAPAFLOW_INFRA_DIR, so
the live Kafka and PostgreSQL of the test run are never touched."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, _missing

KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
POSTGRES_SH = ROOT / "deploy" / "postgres" / "postgres.sh"

# Listens on a free loopback port, prints it, then waits to be killed. Extra
# arguments only shape its command line (kafka.sh recognises its broker by it).
_LISTENER = """
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)
"""


class Listener:
    def __init__(self, *cmdline_tail: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", _LISTENER, *cmdline_tail],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    started: list[Listener] = []
    yield started
    for listener in started:
        listener.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(script: Path, infra: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), "status"], capture_output=True, text=True, timeout=60,
                          env=os.environ | {"CAPAFLOW_INFRA_DIR": str(infra)} | env)


def our_fake_broker(infra: Path, listeners: list[Listener]) -> Listener:
    """A process that looks like this checkout's broker to kafka.sh: its pid in
    the pid file, its command line naming our server.properties, which records
    the port it listens on."""
    state = infra / "kafka"
    state.mkdir(parents=True)
    props = state / "server.properties"
    broker = Listener("kafka.Kafka", str(props))
    listeners.append(broker)
    props.write_text(f"listeners=PLAINTEXT://127.0.0.1:{broker.port},"
                     f"CONTROLLER://127.0.0.1:{free_port()}\n")
    (state / "kafka.pid").write_text(f"{broker.process.pid}\n")
    return broker


def test_kafka_status_is_ok_for_our_broker_on_the_port_asked_for(
        tmp_path: Path, listeners: list[Listener]) -> None:
    broker = our_fake_broker(tmp_path, listeners)
    result = status(KAFKA_SH, tmp_path, KAFKA_PORT=str(broker.port))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"running (pid {broker.process.pid}) on 127.0.0.1:{broker.port}" in result.stdout


def test_kafka_status_fails_when_our_broker_runs_on_another_port_than_asked(
        tmp_path: Path, listeners: list[Listener]) -> None:
    broker = our_fake_broker(tmp_path, listeners)
    # Someone else's broker answers on the port this shell asks for.
    theirs = Listener()
    listeners.append(theirs)
    result = status(KAFKA_SH, tmp_path, KAFKA_PORT=str(theirs.port))
    assert result.returncode == 1, result.stdout
    assert f"runs on 127.0.0.1:{broker.port}, not KAFKA_PORT={theirs.port}" in result.stdout


def test_kafka_status_fails_when_only_someone_elses_broker_answers(
        tmp_path: Path, listeners: list[Listener]) -> None:
    theirs = Listener()
    listeners.append(theirs)
    result = status(KAFKA_SH, tmp_path, KAFKA_PORT=str(theirs.port))
    assert result.returncode == 1, result.stdout
    assert "not this checkout's broker" in result.stdout


def test_kafka_status_fails_when_our_broker_does_not_hold_the_port_it_was_started_on(
        tmp_path: Path, listeners: list[Listener]) -> None:
    broker = our_fake_broker(tmp_path, listeners)
    theirs = Listener()
    listeners.append(theirs)
    # Our records say the port that, in fact, another process holds.
    props = tmp_path / "kafka" / "server.properties"
    props.write_text(f"listeners=PLAINTEXT://127.0.0.1:{theirs.port},"
                     f"CONTROLLER://127.0.0.1:{free_port()}\n")
    result = status(KAFKA_SH, tmp_path, KAFKA_PORT=str(theirs.port))
    assert result.returncode == 1, result.stdout
    assert f"pid {broker.process.pid}) is alive, but 127.0.0.1:{theirs.port} is answered " \
           "by another process" in result.stdout


def test_postgres_status_fails_when_only_someone_elses_server_answers(
        tmp_path: Path, listeners: list[Listener]) -> None:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _missing("PostgreSQL's server binaries")
    theirs = Listener()
    listeners.append(theirs)
    result = status(POSTGRES_SH, tmp_path, PG_PORT=str(theirs.port))
    assert result.returncode == 1, result.stdout
    assert "not this checkout's cluster" in result.stdout


def test_postgres_status_names_the_port_our_cluster_runs_on(tmp_path: Path) -> None:
    # Read-only look at this checkout's live cluster (started by `make infra-up`):
    # asked for another port, status must refuse rather than say "running".
    live = ROOT / "var" / "infra"
    pid_file = live / "postgres" / "data" / "postmaster.pid"
    if not pid_file.exists():
        _missing("this checkout's PostgreSQL (make infra-up)")
    running_port = pid_file.read_text().splitlines()[3]
    other = str(free_port())
    result = status(POSTGRES_SH, live, PG_PORT=other)
    assert result.returncode == 1, result.stdout
    assert f"runs on 127.0.0.1:{running_port}, not PG_PORT={other}" in result.stdout

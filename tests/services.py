"""Stop and start the local services for chaos tests; every helper leaves them running."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.ports import free_ports


def _run(*cmd: str, timeout: float = 120) -> None:
    subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)


def wait_port(port: int, up: bool = True, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.2)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} in {timeout}s")


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def postgres(action: str) -> None:
    """``start``, ``stop`` or ``restart`` the local PostgreSQL cluster."""
    _run("pg_ctlcluster", "--skip-systemctl-redirect", _pg_version(), "main", action)
    if action != "stop":
        wait_ready_postgres()


def wait_ready_postgres(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode:
        if time.monotonic() > deadline:
            raise TimeoutError("PostgreSQL is not ready")
        time.sleep(0.2)


def ensure_postgres() -> None:
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode:
        postgres("start")


def rabbit(action: str) -> None:
    """``stop_app`` or ``start_app`` the local RabbitMQ node (the Erlang VM stays up)."""
    _run("rabbitmqctl", action, timeout=180)
    if action == "start_app":
        _run("rabbitmqctl", "await_startup", timeout=180)
        wait_port(5672)


def ensure_rabbit() -> None:
    try:
        wait_port(5672, timeout=2)
    except TimeoutError:
        if subprocess.run(["rabbitmqctl", "status"], capture_output=True,
                          check=False).returncode:
            _run("rabbitmq-server", "-detached")
            time.sleep(3)
        rabbit("start_app")


class PrivateRedis:
    """A redis-server of the test's own on a free port, so it can be killed freely."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_ports()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            wait_port(self.port, up=False)


def pg_log_tail() -> str:
    logs = sorted(glob.glob("/var/log/postgresql/*.log"))
    return Path(logs[-1]).read_text()[-2000:] if logs else ""

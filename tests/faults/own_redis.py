"""A private redis-server for tests that crash or restart Redis (never the shared one)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.helpers.ports import free_port
from tests.helpers.processes import sigkill, terminate


class OwnRedis:
    """redis-server (AOF on unless told otherwise) on a free loopback port.

    `crash()` is SIGKILL; `start()` starts it again on the same port and directory.
    """

    def __init__(self, workdir: Path, appendfsync: str = "always", appendonly: bool = True) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is needed for the Redis fault tests")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.appendfsync = appendfsync
        self.appendonly = appendonly
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                self.appendfsync,
                "--save",
                "",
                "--logfile",
                str(self.workdir / "redis.log"),
            ]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return self
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def crash(self) -> None:
        """SIGKILL: whatever the fsync policy has not written yet is lost."""
        sigkill(self.proc)

    def stop(self) -> None:
        terminate(self.proc, grace=10)

    def __enter__(self) -> OwnRedis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

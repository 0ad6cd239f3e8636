"""A real three-node Redis Cluster on loopback ports, for the cluster variant of the suites."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from tests.helpers.ports import free_cluster_port


class LocalCluster:
    def __init__(self, workdir: Path, size: int = 3) -> None:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError("redis-server and redis-cli are needed for the cluster tests")
        self.workdir = workdir
        self.ports = [free_cluster_port() for _ in range(size)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def nodes(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start_node(self, port: int) -> None:
        node_dir = self.workdir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(node_dir),
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"cluster node {port} did not start")

    def stop_node(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.terminate()
        proc.wait(10)

    def __enter__(self) -> LocalCluster:
        shutil.rmtree(self.workdir, ignore_errors=True)
        for port in self.ports:
            self.start_node(port)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{p}" for p in self.ports],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(self._state(port) == "ok" for port in self.ports):
                return self
            time.sleep(0.1)
        raise RuntimeError("cluster did not reach state ok")

    @staticmethod
    def _state(port: int) -> str:
        info: Any = redis.Redis(port=port, decode_responses=True).cluster("INFO")
        return str(info.get("cluster_state", ""))

    def __exit__(self, *_: object) -> None:
        for port in list(self.procs):
            self.stop_node(port)

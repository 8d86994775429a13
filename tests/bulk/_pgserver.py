"""A throwaway PostgreSQL server for the tests: initdb in a temp directory, a loopback port.

Found through ``initdb`` on the PATH or under ``/usr/lib/postgresql/*/bin`` (Debian's
``postgresql`` package). PostgreSQL refuses to run as root: as root, the cluster belongs to the
``postgres`` user where it exists, else to ``nobody``. Password authentication (scram) on
loopback TCP, so that a wrong password is refused as it would be in production.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from client.fake_secrets import PASSWORD as PASSWORD  # the suite watches its outputs for it

USER = "flinkey"


def binaries() -> Path | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgServer:
    """One cluster, started by :meth:`start` and removed by :meth:`stop`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="flinkey-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    self._owner = pwd.getpwnam(name)
                    break

    def dsn(
        self, *, password: str | None = PASSWORD, database: str = "postgres", socket: bool = False
    ) -> str:
        """The server's URL: loopback TCP, or (``socket``) its Unix socket."""
        auth = USER if password is None else f"{USER}:{password}"
        if socket:
            return f"postgresql://{auth}@/{database}?host={self.root}&port={self.port}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        owner = self._owner
        extra: dict[str, object] = {}
        if owner is not None:
            extra = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            args, env=env, cwd=self.root, text=True, capture_output=True, **extra, **kwargs
        )

    def start(self, *, durable: bool = False) -> None:
        """Start the server; ``durable``: with fsync (for benchmarks), else without (tests)."""
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._owner is not None:
            for path in (self.root, pwfile):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self.root.chmod(0o700)
        init = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER,
            f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            "-c synchronous_commit=off -c max_connections=100"
        )
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        started = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                return
            time.sleep(0.05)
        raise RuntimeError("the PostgreSQL server did not start listening")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                "stop",
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

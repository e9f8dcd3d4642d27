"""A throwaway PostgreSQL server on a free loopback port, for tests of the store on a real database.

It uses the server binaries of Debian's ``postgresql`` package (``pg_config --bindir``), runs them
as the ``postgres`` user when the tests run as root (initdb refuses root), and stops the server
and removes its files afterwards.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from typing import Iterator, Optional


def bindir() -> Optional[str]:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    folder = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
    return folder if os.path.exists(os.path.join(folder, "initdb")) else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list) -> list:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextlib.contextmanager
def server(password: Optional[str] = None) -> Iterator[str]:
    """Start a server; yield the URL of an empty database ``sweeps`` on it. With ``password``,
    the server asks for it (scram-sha-256) and the URL holds it."""
    folder = bindir()
    if folder is None:
        raise RuntimeError("PostgreSQL's server binaries are missing: apt-get install -y postgresql")
    root = tempfile.mkdtemp(prefix="sweeps-pg-")
    data, port = os.path.join(root, "data"), _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    try:
        auth = ["-A", "trust"]
        if password is not None:
            secret = os.path.join(root, "pwfile")
            with open(secret, "w") as handle:
                handle.write(password)
            if os.geteuid() == 0:
                shutil.chown(secret, "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={secret}"]
        subprocess.run(_as_owner([f"{folder}/initdb", "-D", data, *auth, "-U", "postgres"]),
                       check=True, capture_output=True)
        subprocess.run(_as_owner([f"{folder}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w",
                                  "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"]),
                       check=True, capture_output=True, timeout=60)
        try:
            subprocess.run(_as_owner([f"{folder}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                      "sweeps"]), check=True, capture_output=True, timeout=30,
                           env={**os.environ, "PGPASSWORD": password or ""})
            user = "postgres" if password is None else f"postgres:{password}"
            yield f"postgresql://{user}@127.0.0.1:{port}/sweeps"
        finally:
            subprocess.run(_as_owner([f"{folder}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def database_or_skip():
    """For a module-scoped fixture: yield a throwaway database's URL; skip without the server
    binaries, except under CI, which always runs the real database."""
    import pytest

    if bindir() is None:
        message = "PostgreSQL's server binaries are missing: apt-get install -y postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with server() as database:
        yield database


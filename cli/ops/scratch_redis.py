"""Throwaway Redis containers for backups: Redis' own RDB checker, and a loader
that serves a backup file so its keys can be read with DUMP.

Both run the image of the node the file came from (no registry is needed, and
the RDB format version is one that binary reads), get the file through the
Docker API (no bind mount: the CLI may talk to a remote engine), and are
removed even when the caller fails.
"""

from __future__ import annotations

import re
import secrets
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from cli.ops import waiting
from cli.ops.container_files import put_file

LABEL = "infra.scratch"
# redis-server runs as the RDB checker when started under this name (Redis'
# server.c: `strstr(argv[0], "redis-check-rdb")`); the image ships only redis-server.
CHECK_RDB = "/bin/busybox ln -sf /usr/bin/redis-server /tmp/redis-check-rdb && /tmp/redis-check-rdb"
KEYS_READ = re.compile(r"(\d+) keys read")


class RdbInvalid(Exception):
    pass


def copy_out(container: Any, path: str, target: Path) -> None:
    """Stream `path` from the container into `target` without holding a second
    copy in memory for the tar: chunks go to a spooled file first."""
    stream, _ = container.get_archive(path)
    with _spooled(stream) as spool, tarfile.open(fileobj=spool) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member else None
        if handle is None:
            raise FileNotFoundError(f"{container.name}:{path} is not a file")
        with target.open("wb") as out:
            while chunk := handle.read(1 << 20):
                out.write(chunk)


@contextmanager
def _spooled(chunks: Iterator[bytes]) -> Iterator[Any]:
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        yield spool


def check_rdb(containers: Any, image: str, rdb: Path) -> int:
    """Run Redis' RDB checker on the file; the number of keys it read."""
    command = ["sh", "-c", f"{CHECK_RDB} /data/dump.rdb"]
    container = containers.create(image, command, network_mode="none", labels={LABEL: "check-rdb"})
    try:
        put_file(container, "/data", "dump.rdb", rdb)
        container.start()
        code = container.wait(timeout=600)["StatusCode"]
        log = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    found = KEYS_READ.search(log)
    if code != 0 or "RDB looks OK" not in log or not found:
        said = [line for line in log.splitlines() if "RDB ERROR" not in line]
        why = [line for line in said if "error" in line.lower()] or said[-3:]
        raise RdbInvalid(f"{rdb.name}: redis-check-rdb rejected it ({' | '.join(why)})")
    return int(found.group(1))


@contextmanager
def loader(containers: Any, image: str, rdb: Path) -> Iterator[redis.Redis]:
    """A Redis server that loaded `rdb`, reachable on 127.0.0.1 only, with a
    one-time password; removed on exit."""
    password = secrets.token_urlsafe(24)
    command = [
        "redis-server",
        *("--dir", "/data", "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""),
        *("--protected-mode", "no", "--requirepass", password),
    ]
    container = containers.create(
        image, command, ports={"6379/tcp": ("127.0.0.1", None)}, labels={LABEL: "loader"}
    )
    try:
        put_file(container, "/data", "dump.rdb", rdb)
        container.start()
        container.reload()
        port = int(container.ports["6379/tcp"][0]["HostPort"])
        client = redis.Redis(port=port, password=password, socket_timeout=30)
        loaded = lambda: int(client.info("persistence")["loading"]) == 0  # noqa: E731
        waiting.wait_until(loaded, 300, f"{rdb.name} loaded", interval=0.1)
        with client:
            yield client
    finally:
        container.remove(force=True)

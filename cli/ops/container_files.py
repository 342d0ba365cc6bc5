"""A file put into a container through the Docker archive API (a one-file tar)."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any


def put_file(container: Any, directory: str, name: str, source: Path | bytes) -> None:
    """`source` (a file on this machine, or bytes) as directory/name, mode 0644,
    owned by root. The tar is spooled to disk, so a large file is never held
    in memory."""
    with tempfile.TemporaryFile() as buffer:
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info, handle = _entry(tar, name, source)
            info.mode, info.uid, info.gid = 0o644, 0, 0
            with handle:
                tar.addfile(info, handle)
        buffer.seek(0)
        if not container.put_archive(directory, buffer):
            raise OSError(f"{container.name}: could not write {directory}/{name}")


def _entry(
    tar: tarfile.TarFile, name: str, source: Path | bytes
) -> tuple[tarfile.TarInfo, IO[bytes]]:
    if isinstance(source, bytes):
        info = tarfile.TarInfo(name)
        info.size = len(source)
        return info, io.BytesIO(source)
    return tar.gettarinfo(str(source), arcname=name), source.open("rb")

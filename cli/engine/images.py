"""The stack's images on every Docker host of a stack with `hosts`.

Where no registry is reachable (this project's own machines, air-gapped sites),
a host can only run an image that is put there. Before the engine runs, `infra
up` checks each host for each image the stack runs; a missing one is streamed
from the operator's Docker engine (`docker save`) into the host's (`docker
load`) through the Docker API, with a progress bar on a terminal and one line
per copy. An image the operator's engine does not have either is left to the
docker provider, which pulls it on the host (a registry configured there) or
fails naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from cli.errors import OperationFailed
from providers.docker_standin.engine import client_for
from stacks.config.hosts import HostConfig

CHUNK = 2 * 1024 * 1024


@dataclass(frozen=True)
class Copied:
    host: str
    image: str
    size: int
    seconds: float

    def line(self) -> str:
        return (
            f"image {self.image} copied to host {self.host} "
            f"({self.size / 1e6:.1f} MB in {self.seconds:.1f} s)"
        )


def reach(host: HostConfig) -> docker.DockerClient:
    """A client for the host's engine, checked to answer."""
    try:
        client = client_for(host.docker, host.cert_path)
        client.ping()
    except DockerException as exc:
        raise OperationFailed(
            f"Docker host {host.name} ({host.docker}) does not answer: {exc}",
            [
                "check that its engine runs and that this machine reaches it "
                "(ssh:// needs a working `ssh` login; tcp:// the certificates in certPath)"
            ],
        ) from None
    return client


def reach_all(hosts: list[HostConfig]) -> None:
    for host in hosts:
        reach(host).close()


def distribute(
    hosts: list[HostConfig],
    images: Mapping[str, list[str]],
    console: Console,
    notify: Callable[[str], None],
) -> list[Copied]:
    """Put on each host the images it needs (`images`: host name -> images)
    and lacks; what was copied."""
    copied: list[Copied] = []
    local: docker.DockerClient | None = None
    for host in hosts:
        client = reach(host)
        try:
            for image in images.get(host.name, []):
                if _present(client, image):
                    continue
                local = local or _local_engine()
                source = _local_image(local, image)
                if source is None:
                    continue
                done = _copy(source, image, host.name, client, console)
                notify(done.line())
                copied.append(done)
        finally:
            client.close()
    if local is not None:
        local.close()
    return copied


def _present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def _local_engine() -> docker.DockerClient | None:
    with suppress(DockerException):
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    return None


def _local_image(local: docker.DockerClient | None, image: str) -> Any:
    if local is None:
        return None
    try:
        return local.images.get(image)
    except ImageNotFound:
        return None


def _copy(
    source: Any, image: str, host: str, client: docker.DockerClient, console: Console
) -> Copied:
    size = int(source.attrs.get("Size") or 0)
    start = time.monotonic()
    columns = (
        TextColumn(f"image {image} -> {host}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("copy", total=size or None)

        def chunks() -> Iterator[bytes]:
            for chunk in source.save(chunk_size=CHUNK, named=True):
                progress.update(task, advance=len(chunk))
                yield chunk

        try:
            client.images.load(chunks())
        except DockerException as exc:
            raise OperationFailed(f"copying image {image} to host {host} failed: {exc}") from None
    if not _present(client, image):
        raise OperationFailed(f"host {host} loaded the archive of {image} but has no such image")
    return Copied(host, image, size, time.monotonic() - start)

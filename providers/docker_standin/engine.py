"""Create, Read, Update and Delete on a Docker engine, in upstream's order.

Upstream: kreuzwerker/terraform-provider-docker v3 (internal/provider/
resource_docker_{container,network,volume,remote_image}*_funcs.go), bridged by
pulumi-docker 5.2.0. Where this code deviates it says so.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import tenacity
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import Healthcheck, IPAMConfig, IPAMPool, LogConfig

from providers.docker_standin.diffing import duration_ns, go_duration
from providers.docker_standin.schema import CONTAINER, IMAGE, NETWORK, VOLUME

Props = dict[str, Any]
# Upstream retries network and volume removal while containers detach (about 30 s).
REMOVE_RETRY_S = 30.0
WAIT_POLL_S = 1.0


class ProviderError(Exception):
    """Shown by the engine as the resource's error."""


def _labels(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


def _retry_removal(action: Callable[[], None], what: str) -> None:
    """Retry a removal Docker refuses (in use, being removed) every second for
    REMOVE_RETRY_S, as upstream's delete retries; gone already is done."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(REMOVE_RETRY_S),
        wait=tenacity.wait_fixed(1),
        retry=tenacity.retry_if_exception(
            lambda exc: isinstance(exc, APIError) and not isinstance(exc, NotFound)
        ),
        reraise=True,
    )
    try:
        retrying(action)
    except NotFound:
        return
    except APIError as exc:
        raise ProviderError(f"unable to remove {what}: {exc.explanation or exc}") from exc


class Engine:
    """One Docker client; each method takes and returns plain property dicts."""

    def __init__(self, host: str | None = None, cert_path: str | None = None) -> None:
        self.client = client_for(host, cert_path)

    # --- dispatch --------------------------------------------------------------------
    def create(self, type_: str, inputs: Props, timeout: float) -> tuple[str, Props]:
        handler = {
            NETWORK: self.create_network,
            VOLUME: self.create_volume,
            IMAGE: self.create_image,
            CONTAINER: self.create_container,
        }[type_]
        return handler(inputs)

    def read(self, type_: str, id_: str, props: Props) -> Props | None:
        handler = {
            NETWORK: self.read_network,
            VOLUME: self.read_volume,
            IMAGE: self.read_image,
            CONTAINER: self.read_container,
        }[type_]
        return handler(id_, props)

    def delete(self, type_: str, id_: str, props: Props) -> None:
        handler = {
            NETWORK: self.delete_network,
            VOLUME: self.delete_volume,
            IMAGE: self.delete_image,
            CONTAINER: self.delete_container,
        }[type_]
        handler(id_, props)

    # --- network -----------------------------------------------------------------------
    def create_network(self, inputs: Props) -> tuple[str, Props]:
        pools = [
            IPAMPool(subnet=c.get("subnet"), gateway=c.get("gateway"))
            for c in inputs.get("ipamConfigs") or []
        ]
        try:
            net = self.client.networks.create(
                inputs["name"],
                driver=inputs.get("driver", "bridge"),
                ipam=IPAMConfig(pool_configs=pools) if pools else None,
                labels=_labels(inputs.get("labels")),
            )
        except APIError as exc:
            raise ProviderError(f"unable to create network: {exc.explanation or exc}") from exc
        return str(net.id), {**inputs, "scope": net.attrs.get("Scope", "local")}

    def read_network(self, id_: str, props: Props) -> Props | None:
        try:
            net = self.client.networks.get(id_)
        except NotFound:
            return None
        return {**props, "name": net.name, "scope": net.attrs.get("Scope", "local")}

    def delete_network(self, id_: str, props: Props) -> None:
        _retry_removal(lambda: self.client.api.remove_network(id_), f"network {id_}")

    # --- volume ------------------------------------------------------------------------
    def create_volume(self, inputs: Props) -> tuple[str, Props]:
        try:
            vol = self.client.volumes.create(
                inputs.get("name"),
                driver=inputs.get("driver", "local"),
                labels=_labels(inputs.get("labels")),
            )
        except APIError as exc:
            raise ProviderError(f"unable to create volume: {exc.explanation or exc}") from exc
        # Upstream: a volume's id is its name.
        return str(vol.name), {**inputs, "name": vol.name, "mountpoint": vol.attrs["Mountpoint"]}

    def read_volume(self, id_: str, props: Props) -> Props | None:
        try:
            vol = self.client.volumes.get(id_)
        except NotFound:
            return None
        return {**props, "name": vol.name, "mountpoint": vol.attrs.get("Mountpoint", "")}

    def delete_volume(self, id_: str, props: Props) -> None:
        _retry_removal(lambda: self.client.api.remove_volume(id_), f"volume {id_}")

    # --- image -------------------------------------------------------------------------
    def create_image(self, inputs: Props) -> tuple[str, Props]:
        """Use the local image, else pull it (upstream `findImage`, then `pullImage`)."""
        name = inputs["name"]
        try:
            image = self.client.images.get(name)
        except ImageNotFound:
            image = self._pull(name)
        props = self._image_props(inputs, image)
        # Upstream: the id is the image id followed by the name.
        return f"{props['imageId']}{name}", props

    def _pull(self, name: str) -> Any:
        try:
            return self.client.images.pull(name)
        except APIError as exc:
            raise ProviderError(
                f"image {name} is not on this Docker host and could not be pulled "
                f"({exc.explanation or exc}): build or load it (`docker load`), or pull it "
                "where a registry is reachable"
            ) from exc

    @staticmethod
    def _image_props(inputs: Props, image: Any) -> Props:
        digests = image.attrs.get("RepoDigests") or []
        return {**inputs, "imageId": image.id, "repoDigest": digests[0] if digests else ""}

    def read_image(self, id_: str, props: Props) -> Props | None:
        try:
            image = self.client.images.get(props["name"])
        except ImageNotFound:
            return None
        return self._image_props(props, image)

    def delete_image(self, id_: str, props: Props) -> None:
        if props.get("keepLocally"):
            return
        try:
            self.client.images.remove(props.get("imageId") or props["name"])
        except NotFound:
            return
        except APIError as exc:
            raise ProviderError(f"unable to remove image: {exc.explanation or exc}") from exc

    # --- container -----------------------------------------------------------------------
    def create_container(self, inputs: Props) -> tuple[str, Props]:
        """Create on the default bridge, move to `networksAdvanced`, upload files, start,
        then wait for healthy (upstream `resourceDockerContainerCreate`).

        Deviation: when start or the health wait fails, upstream leaves a tainted
        resource to be replaced on the next `up`; the stand-in removes the container
        (keeping its last log lines in the error) so the next `up` starts clean.
        """
        api = self.client.api
        try:
            created = api.create_container(**self._create_args(inputs))
        except APIError as exc:
            raise ProviderError(f"unable to create container: {exc.explanation or exc}") from exc
        cid = created["Id"]
        try:
            self._attach_networks(cid, inputs.get("networksAdvanced") or [])
            self._upload(cid, inputs.get("uploads") or [])
            api.start(cid)
            if inputs.get("wait"):
                self._wait_healthy(cid, float(inputs.get("waitTimeout") or 60))
        except (APIError, ProviderError) as exc:
            logs = self._tail(cid)
            self._remove(cid)
            message = exc.explanation if isinstance(exc, APIError) else str(exc)
            raise ProviderError(f"{message}{logs}") from exc
        return cid, self._container_props(inputs, cid)

    def _create_args(self, inputs: Props) -> Props:
        api = self.client.api
        ports = inputs.get("ports") or []
        bindings = {
            f"{int(p['internal'])}/tcp": (p.get("ip") or "0.0.0.0", int(p["external"]))
            for p in ports
            if p.get("external")
        }
        memory = inputs.get("memory")
        host_config = api.create_host_config(
            port_bindings=bindings,
            binds=[
                f"{v['volumeName']}:{v['containerPath']}{':ro' if v.get('readOnly') else ''}"
                for v in inputs.get("volumes") or []
            ],
            restart_policy=_restart_policy(inputs.get("restart"), inputs.get("maxRetryCount")),
            mem_limit=f"{int(memory)}m" if memory else None,
            memswap_limit=_mb(inputs.get("memorySwap")),
            log_config=LogConfig(
                type=inputs.get("logDriver") or "json-file", config=inputs.get("logOpts") or {}
            ),
        )
        return {
            "image": inputs["image"],
            "command": inputs.get("command"),
            "entrypoint": inputs.get("entrypoints"),
            "name": inputs.get("name"),
            "hostname": inputs.get("hostname"),
            "environment": inputs.get("envs"),
            "labels": _labels(inputs.get("labels")),
            "ports": [(int(p["internal"]), "tcp") for p in ports],
            "host_config": host_config,
            "healthcheck": _healthcheck(inputs.get("healthcheck")),
            "user": inputs.get("user"),
            "working_dir": inputs.get("workingDir"),
            "stop_signal": inputs.get("stopSignal"),
            "stop_timeout": int(inputs["stopTimeout"]) if inputs.get("stopTimeout") else None,
        }

    def _attach_networks(self, cid: str, networks: list[Props]) -> None:
        """Upstream creates on the default bridge, disconnects it, then connects each
        `networks_advanced` entry with its address and aliases."""
        if not networks:
            return
        self.client.api.disconnect_container_from_network(cid, "bridge")
        for net in networks:
            self.client.api.connect_container_to_network(
                cid,
                net["name"],
                ipv4_address=net.get("ipv4Address"),
                aliases=net.get("aliases") or None,
            )

    def _upload(self, cid: str, uploads: list[Props]) -> None:
        """One archive per file, mode `permissions`, else 0744 if executable, else 0644."""
        for upload in uploads:
            data = str(upload.get("content", "")).encode()
            info = tarfile.TarInfo(str(upload["file"]).lstrip("/"))
            info.size = len(data)
            if upload.get("permissions"):
                info.mode = int(str(upload["permissions"]), 8)
            else:
                info.mode = 0o744 if upload.get("executable") else 0o644
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.addfile(info, io.BytesIO(data))
            self.client.api.put_archive(cid, "/", buf.getvalue())

    def _wait_healthy(self, cid: str, timeout: float) -> None:
        """Poll every second until healthy; upstream's error at `waitTimeout`."""

        def healthy() -> bool:
            state = self.client.api.inspect_container(cid)["State"]
            return (state.get("Health") or {}).get("Status") == "healthy"

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(timeout),
            wait=tenacity.wait_fixed(WAIT_POLL_S),
            retry=tenacity.retry_if_result(lambda ok: not ok),
        )
        try:
            retrying(healthy)
        except tenacity.RetryError:
            raise ProviderError("container failed to be in healthy state") from None

    def _tail(self, cid: str) -> str:
        try:
            text = self.client.api.logs(cid, tail=15).decode(errors="replace").strip()
        except APIError:
            return ""
        return f"\ncontainer log (last lines):\n{text}" if text else ""

    def _container_props(self, inputs: Props, cid: str) -> Props:
        info = self.client.api.inspect_container(cid)
        networks = info["NetworkSettings"].get("Networks") or {}
        state = info["State"]
        health = self._healthcheck_props(info)
        return {
            **inputs,
            **({"healthcheck": health} if health else {}),
            "networkDatas": [
                {
                    "networkName": name,
                    "ipAddress": net.get("IPAddress", ""),
                    "gateway": net.get("Gateway", ""),
                    "macAddress": net.get("MacAddress", ""),
                }
                for name, net in sorted(networks.items())
            ],
            "exitCode": None if state.get("Running") else state.get("ExitCode"),
        }

    def read_container(self, id_: str, props: Props) -> Props | None:
        """Missing: gone from the state. Stopped while `mustRun`: upstream deletes it and
        drops it from the state, so the next `up` creates it again."""
        try:
            info = self.client.api.inspect_container(id_)
        except NotFound:
            return None
        if not info["State"].get("Running") and props.get("mustRun", True):
            self.delete_container(id_, props)
            return None
        host = info["HostConfig"]
        refreshed = dict(props)
        refreshed["restart"] = (host.get("RestartPolicy") or {}).get("Name") or "no"
        if host.get("Memory"):
            refreshed["memory"] = host["Memory"] // (1024 * 1024)
        return self._container_props(refreshed, id_)

    @staticmethod
    def _healthcheck_props(info: Props) -> Props | None:
        """As upstream's Read writes it: durations as Go's Duration.String()."""
        spec = (info.get("Config") or {}).get("Healthcheck")
        if not spec or not spec.get("Test"):
            return None
        return {
            "tests": spec["Test"],
            "interval": go_duration(int(spec.get("Interval") or 0)),
            "timeout": go_duration(int(spec.get("Timeout") or 0)),
            "startPeriod": go_duration(int(spec.get("StartPeriod") or 0)),
            "retries": int(spec.get("Retries") or 0),
        }

    def update_container(self, id_: str, olds: Props, news: Props) -> Props:
        """`restart` and `memory` in place (ContainerUpdate); the rest is state only."""
        try:
            self.client.api.update_container(
                id_,
                restart_policy=_restart_policy(news.get("restart"), news.get("maxRetryCount"))
                or {"Name": "no"},
                mem_limit=_mb(news.get("memory")),
                memswap_limit=_mb(news.get("memorySwap")),
            )
        except APIError as exc:
            raise ProviderError(f"unable to update container: {exc.explanation or exc}") from exc
        return self._container_props(news, id_)

    def delete_container(self, id_: str, props: Props) -> None:
        """Stop with `destroyGraceSeconds` as the timeout (unset: 0, so the stop signal
        is followed by SIGKILL at once), force-remove with its anonymous volumes, wait
        until gone."""
        grace = int(props.get("destroyGraceSeconds") or 0)
        try:
            self.client.api.stop(id_, timeout=grace)
            self._remove(id_)
        except NotFound:
            return
        except APIError as exc:
            raise ProviderError(f"unable to remove container: {exc.explanation or exc}") from exc
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(REMOVE_RETRY_S),
            wait=tenacity.wait_fixed(0.2),
            retry=tenacity.retry_if_result(lambda _: True),
        )
        try:
            retrying(self.client.api.inspect_container, id_)
        except NotFound:
            return
        except tenacity.RetryError:
            pass
        raise ProviderError(f"container {id_[:12]} was not removed within {REMOVE_RETRY_S:.0f}s")

    def _remove(self, cid: str) -> None:
        try:
            self.client.api.remove_container(cid, v=True, force=True)
        except NotFound:
            return


def client_for(host: str | None, cert_path: str | None = None) -> docker.DockerClient:
    """The Docker client for a provider's `host`, as upstream connects
    (kreuzwerker provider.go / config.go): the environment's engine when unset;
    `cert_path`'s ca.pem, cert.pem and key.pem for a tcp:// host (TLS, verified);
    ssh:// through the system `ssh` running `docker system dial-stdio` on the
    host, as the Docker CLI's connection helper does."""
    if not host:
        return docker.from_env(timeout=120)
    if host.startswith("ssh://"):
        return docker.DockerClient(base_url=host, timeout=120, use_ssh_client=True)
    tls: docker.tls.TLSConfig | bool = False
    if cert_path:
        folder = Path(cert_path).expanduser()
        tls = docker.tls.TLSConfig(
            client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
            ca_cert=str(folder / "ca.pem"),
            verify=True,
        )
    return docker.DockerClient(base_url=host, timeout=120, tls=tls)


def _restart_policy(name: str | None, retries: Any = None) -> dict[str, Any] | None:
    if not name or name == "no":
        return None
    policy: dict[str, Any] = {"Name": name}
    if name == "on-failure" and retries:
        policy["MaximumRetryCount"] = int(retries)
    return policy


def _mb(value: Any) -> str | None:
    return f"{int(value)}m" if value else None


def _healthcheck(spec: Props | None) -> Healthcheck | None:
    if not spec:
        return None
    return Healthcheck(
        test=spec["tests"],
        interval=duration_ns(spec.get("interval") or "0s"),
        timeout=duration_ns(spec.get("timeout") or "0s"),
        retries=int(spec.get("retries") or 0),
        start_period=duration_ns(spec.get("startPeriod") or "0s"),
    )

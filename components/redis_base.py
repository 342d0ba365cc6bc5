"""What Redis Cluster and Sentinel groups share as components."""

from __future__ import annotations

from typing import ClassVar

import pulumi
import pulumi_docker as docker

from components import docker_node as dn
from components import redis_handover as ho
from components import tls
from components.base import InfraComponent
from components.redis_config import RedisConfig

TLS_DIR = "/usr/local/etc/redis/tls"
CA_PATH = f"{TLS_DIR}/ca.crt"
CERT_PATH = f"{TLS_DIR}/node.crt"
KEY_PATH = f"{TLS_DIR}/node.key"


def tls_lines(cluster: bool) -> list[str]:
    """`redis.conf` lines of a TLS node. Clients authenticate with passwords, not
    certificates (`tls-auth-clients no`); replication and the cluster bus verify
    the peer node against the stack's CA."""
    lines = [
        f"tls-cert-file {CERT_PATH}",
        f"tls-key-file {KEY_PATH}",
        f"tls-ca-cert-file {CA_PATH}",
        "tls-auth-clients no",
        "tls-replication yes",
    ]
    return [*lines, "tls-cluster yes"] if cluster else lines


def cli_tls(tls: bool) -> str:
    """redis-cli's TLS options inside a container (with a trailing space)."""
    return f"--tls --cacert {CA_PATH} " if tls else ""


def node_sans(node: dn.Node, site: dn.Site) -> list[str]:
    """Every name and address a client uses for `node`: its container name, its
    container address, the address it announces (its host's, across hosts), the
    host endpoint the operator's machine uses, and loopback (its healthcheck)."""
    host, _ = dn.host_endpoint(node, site.host_bind)
    names = [node.name, node.ip, host, "localhost", "127.0.0.1"]
    if node.container_ip:
        names.insert(1, node.container_ip)
    return list(dict.fromkeys(names))


class RedisTier(InfraComponent):
    """Redis data nodes on a Docker site, in the mode of the subclass.

    Both modes take the same things (the validated `redis` config, the site
    the stack gives them, the password as a secret) and share one image; a
    mode only says which containers to run (`build`). With `redis.tls`, the
    stack's CA (components/tls.py) signs one certificate per node.
    """

    type_token: ClassVar[str]

    def __init__(
        self,
        name: str,
        config: RedisConfig,
        site: dn.Site,
        password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        tls_ca_key: pulumi.Input[str] | None = None,
    ) -> None:
        super().__init__(self.type_token, name, None, opts)
        self.config, self.site = config, site
        secret = pulumi.Output.secret(password)
        # What infra logs in with: the stack password, or infra's own user's
        # current one while `redis.admin` rotates (RedisConfig.admin_login).
        self.login: pulumi.Output[str] = secret.apply(lambda pw: config.admin_login(pw)[0])
        self.authority = self._authority(secret, tls_ca_key)
        self.build(name, dn.Images(name, config.image, site, self), secret)

    def build(self, name: str, images: dn.Images, password: pulumi.Output[str]) -> None:
        raise NotImplementedError

    @property
    def tls_enabled(self) -> bool:
        return self.config.tls.enabled

    def _authority(
        self, password: pulumi.Output[str], ca_key: pulumi.Input[str] | None
    ) -> pulumi.Output[tls.Authority] | None:
        cfg = self.config.tls
        if not cfg.enabled:
            return None
        if cfg.ca_cert is None:
            return password.apply(lambda pw: tls.generated_ca(pw, self.site.prefix))
        if ca_key is None:
            raise ValueError(f"{self.site.prefix}: redis.tls.caCert given without its key")
        ca_cert = cfg.ca_cert
        return pulumi.Output.secret(ca_key).apply(lambda key: tls.own_ca(ca_cert, key))

    def ca_pem(self) -> pulumi.Output[str] | None:
        """The CA certificate clients trust (public: not a secret)."""
        if self.authority is None:
            return None
        return pulumi.Output.unsecret(self.authority.apply(lambda ca: ca.pem))

    def _with_access(self, members: ho.RedisNodes) -> None:
        """How the program's own clients (rolling, scaling) log in: infra's
        user when `default` is disabled, with its current password, and the CA
        they verify nodes with."""
        members.username = self.config.admin_user
        self.login.apply(members.secret.append)
        ca = self.ca_pem()
        if ca is not None:
            ca.apply(members.ca_pem.append)

    def tls_uploads(
        self, node: dn.Node, password: pulumi.Output[str]
    ) -> list[docker.ContainerUploadArgs]:
        """The node's CA, certificate and key files (the key a secret in the
        state). 0644: the official image drops to the `redis` user, and an
        uploaded file is root's; only Redis runs in the container."""
        if self.authority is None:
            return []
        cfg, sans = self.config.tls, node_sans(node, self.site)
        period = tls.period_of(tls.utc_today(), cfg)
        issued: pulumi.Output[tls.NodeCert] = pulumi.Output.all(self.authority, password).apply(
            lambda v: tls.node_cert(v[0], v[1], node.name, sans, period)
        )
        # Secret as everything derived from the password (tests check the state).
        key: pulumi.Output[str] = issued.apply(lambda c: c.key_pem)
        files = [
            (CA_PATH, pulumi.Output.unsecret(issued.apply(lambda c: c.ca_pem))),
            (CERT_PATH, pulumi.Output.unsecret(issued.apply(lambda c: c.cert_pem))),
            (KEY_PATH, key),
        ]
        return [
            docker.ContainerUploadArgs(file=path, content=content, permissions="0644")
            for path, content in files
        ]

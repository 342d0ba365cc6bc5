"""`infra:mongo:ReplicaSet`: a MongoDB replica set on Docker, initiated by the program."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import pulumi
import pulumi_docker as docker

from components import docker_node as dn
from components import mongo_handover as ho
from components import tls
from components.base import InfraComponent
from components.mongo_config import (
    ARBITER_PORT_OFFSET,
    MemberRole,
    MongoConfig,
    MongoExports,
    MongoUser,
)
from components.monitoring_config import ScrapeTarget
from components.placement import place_members
from components.redis_base import node_sans
from components.redis_users import user_password
from components.rolling import Roller

KEYFILE_UPLOAD = "/run/secrets/mongo-keyfile"
KEYFILE_PATH = "/etc/mongo-keyfile"
ROOT_PASSWORD_PATH = "/run/secrets/mongo-root-password"
SCRIPT_DIR = "/usr/local/lib/infra"
INIT_JS = f"{SCRIPT_DIR}/mongo-rs-init.js"
PLAN_JS = f"{SCRIPT_DIR}/mongo-rs-plan.js"
PING_SH = f"{SCRIPT_DIR}/mongo-ping.sh"
HEALTH_FILE = "/tmp/mongo-rs-healthy"
DATA_DIR = "/data/db"
MONGOD_USER = "mongodb"  # uid/gid 999 in the official image
MIN_CACHE_GB = 0.25  # WiredTiger's smallest cache
ARBITER_MEMORY_MB = 512
INIT_MEMORY_MB = 256
# mongod's keyFile: 6-1024 characters of the base64 alphabet, whitespace ignored,
# padding not required (docs: "Keyfiles", security-internal-authentication).
KEY_FILE_RE = re.compile(r"^[A-Za-z0-9+/=]{6,1024}$")
# mongo.tls: the member's certificate and key in one PEM (mongod's
# --tlsCertificateKeyFile), uploaded root-only and copied into place for mongod
# like the keyFile; the CA (public) where mongod, mongosh and the healthcheck read it.
TLS_PEM_UPLOAD = "/run/secrets/mongo-tls.pem"
TLS_PEM_PATH = "/etc/mongo-tls.pem"
CA_PATH = "/etc/mongo-ca.pem"
# The CA and member keys derive from the keyFile (MongoTls): a hand-set one this
# short would make them guessable. A generated keyFile has 1008 characters.
MIN_TLS_KEY_FILE = 32
# mongo.users: {name: password} for the init container (root-only, a secret).
USERS_PATH = "/run/secrets/mongo-users.json"

# The init container refreshes HEALTH_FILE every 5 s while the set is ready: a
# primary, the desired config applied, and enough healthy data-bearing voters for
# a majority write. A member down or in initial sync (STARTUP2) is listed in the
# file but does not make the set unready. Stale or missing = unhealthy.
INIT_HEALTH = f"[ -f {HEALTH_FILE} ] && [ $(( $(date +%s) - $(stat -c %Y {HEALTH_FILE}) )) -lt 30 ]"


@dataclass(frozen=True)
class Layout:
    """Where every member sits, and the roles they hold.

    Data member i has the i-th address of the stack's Mongo block and listens
    on `port_base + i` inside its container and, when `publish` is set, on the
    same port of `host_bind`. The arbiter has its own address block and port
    (`port_base + 50`), so that going from 3 members to 2 + arbiter never hands
    the arbiter the address or port of a member that still runs (Pulumi
    creates the new container before it deletes the old one).

    Across several Docker hosts (`site.hosts`) no container network spans the
    hosts, so members cannot find each other by container name: member i runs
    on the host placement gives it (components/placement.py: one member per
    host), and the replica set config names it by that host's address and its
    port, published 1:1 there (`member_host`). Members, the init container and
    clients anywhere all reach it at that address, and no /etc/hosts line is
    needed.
    """

    config: MongoConfig
    site: dn.Site
    roles: tuple[MemberRole, ...]

    @classmethod
    def of(cls, config: MongoConfig, site: dn.Site) -> Layout:
        return cls(config, site, tuple(config.member_roles()))

    @property
    def member_count(self) -> int:
        return len(self.roles) + int(self.config.arbiter)

    def host_name(self, i: int) -> str:
        """Container name, hostname and network alias of member i: the name the
        replica set config advertises, so it must never change."""
        return f"{self.site.prefix}-arbiter" if self.is_arbiter(i) else f"{self.site.prefix}-{i}"

    def is_arbiter(self, i: int) -> bool:
        return self.config.arbiter and i == len(self.roles)

    @cached_property
    def placed(self) -> list[str]:
        """The host of member i (stacks with `hosts` only; the arbiter last)."""
        return place_members(self.config, list(self.site.hosts)).nodes

    def docker_host(self, i: int) -> dn.HostSite | None:
        """The host member i runs on, or None on a stack with one engine."""
        return self.site.hosts[self.placed[i]] if self.site.hosts else None

    def port(self, i: int) -> int:
        return self.config.port_base + (ARBITER_PORT_OFFSET if self.is_arbiter(i) else i)

    def ip(self, i: int) -> str:
        if self.is_arbiter(i):
            return self.site.ips("mongo-arbiter", 1)[0]
        return self.site.ips("mongo", i + 1)[i]

    def member_host(self, i: int) -> str:
        """Member i in the replica set config: its container name on one engine
        (Docker's DNS resolves it on the stack network), its host's address
        across hosts (no name resolves across them)."""
        host = self.docker_host(i)
        return f"{self.host_name(i) if host is None else host.address}:{self.port(i)}"

    def node(self, i: int) -> dn.Node:
        """Member i as the host sees it: published 1:1 on its port when `publish`.
        Across hosts, at its host's address (`host_endpoint` then reaches it
        there, not on the operator's loopback)."""
        port, host = self.port(i), self.docker_host(i)
        if host is not None:
            return dn.Node(
                self.host_name(i), host.address, port, None, host=host.name, container_ip=self.ip(i)
            )
        return dn.Node(self.host_name(i), self.ip(i), port, port if self.config.publish else None)

    def published(self, i: int) -> list[docker.ContainerPortArgs]:
        """Member i's port, 1:1 on `hostBind` (one engine, when `publish`) or on
        its host's `publishOn` (across hosts, where it is how members meet)."""
        host = self.docker_host(i)
        if host is None:
            return self.node(i).published(self.site.host_bind)
        port = self.port(i)
        return [docker.ContainerPortArgs(internal=port, external=port, ip=host.bind)]

    def resource(self, name: str, i: int) -> str:
        """Pulumi resource name of member i's container."""
        return f"{name}-arbiter" if self.is_arbiter(i) else f"{name}-member-{i}"


def cache_size_gb(memory_mb: int) -> float:
    """WiredTiger cache for a container limited to `memory_mb`.

    MongoDB sizes the cache at 50% of (RAM - 1 GB), at least 0.25 GB; a mongod
    in a container may see the host's RAM instead of its limit, so we apply the
    same rule to the limit ourselves. The other half stays for connections
    (about 1 MB each), index builds, aggregation buffers and the filesystem cache
    that WiredTiger relies on for compressed data; a bigger cache gets the
    container OOM-killed under load.
    """
    return max(MIN_CACHE_GB, round((memory_mb - 1024) / 2 / 1024, 2))


def check_key_file(value: str) -> str:
    """Exactly mongod's rule, no stricter: 6-1024 characters of the base64
    alphabet once whitespace is removed; the text is the shared password, never
    decoded, so it need not be valid padded base64."""
    text = "".join(value.split())
    if not 6 <= len(text) <= 1024:
        raise ValueError(f"infra:mongoKeyFile has {len(text)} characters; mongod wants 6-1024")
    if not KEY_FILE_RE.match(text):
        raise ValueError(
            "infra:mongoKeyFile may only hold base64 characters A-Z a-z 0-9 + / = "
            "(e.g. `openssl rand -base64 756`)"
        )
    return text + "\n"


def mongod_command(layout: Layout, i: int) -> list[str]:
    """Copy the keyFile into place with the owner and mode mongod demands, then
    hand over to the image's entrypoint.

    With `mongo.tls` the member's certificate-and-key PEM is copied the same
    way (readable by `mongodb` only) and mongod accepts TLS only
    (`--tlsMode requireTLS`), presents that certificate to clients and to the
    members it connects to, and verifies peers with the set's CA
    (`--tlsCAFile`). `--tlsAllowConnectionsWithoutCertificates`: clients (the
    init container, applications, infra) present no certificate and log in
    with a password; members authenticate each other with the keyFile, and a
    certificate that IS presented (a member's) is still verified against the CA.

    pulumi-docker uploads files as root and cannot set an owner, while mongod
    refuses a keyFile that is not owned by its user (`mongodb`, uid 999) or that
    group/others can read. The entrypoint then drops to that user. No
    MONGO_INITDB_* variables are set, so the image's first-start init (which
    creates the root user on a temporary mongod started without --replSet,
    and only runs when MONGO_INITDB_ROOT_USERNAME/PASSWORD are set) never runs:
    the init container initiates the set and creates the root user instead.
    """
    arbiter = layout.is_arbiter(i)
    cache = MIN_CACHE_GB if arbiter else cache_size_gb(layout.config.memory_mb)
    mongod = [
        "docker-entrypoint.sh",
        "mongod",
        "--replSet",
        layout.config.replica_set,
        "--keyFile",
        KEYFILE_PATH,
        "--bind_ip_all",
        "--port",
        str(layout.port(i)),
        "--wiredTigerCacheSizeGB",
        f"{cache:g}",
    ]
    steps = _install(KEYFILE_UPLOAD, KEYFILE_PATH)
    if layout.config.tls.enabled:
        steps += _install(TLS_PEM_UPLOAD, TLS_PEM_PATH)
        mongod += tls_args()
    script = " && ".join([*steps, f"exec {shlex.join(mongod)}"])
    return ["sh", "-c", script]


def _install(upload: str, path: str) -> list[str]:
    """An uploaded secret (root's) copied where mongod, as `mongodb`, may read it."""
    owner = f"{MONGOD_USER}:{MONGOD_USER}"
    return [f"cp {upload} {path}", f"chown {owner} {path}", f"chmod 0400 {path}"]


def tls_args() -> list[str]:
    """mongod's TLS flags (`net.tls.*` in a config file)."""
    return [
        "--tlsMode",
        "requireTLS",
        "--tlsCertificateKeyFile",
        TLS_PEM_PATH,
        "--tlsCAFile",
        CA_PATH,
        "--tlsAllowConnectionsWithoutCertificates",
    ]


def member_health(port: int, tls_on: bool = False) -> str:
    """Liveness: `ping` needs no authentication and answers while mongod runs,
    whatever its replica set state. Sent by bash over /dev/tcp
    (scripts/mongo-ping.sh) rather than by mongosh, a Node.js process that
    would run every 5 s inside the member's memory limit.

    With `mongo.tls` a plaintext ping gets no answer (requireTLS), and the image
    has no smaller TLS client that is known to be there, so mongosh sends it,
    over TLS verified with the CA, to `localhost` (a name the certificate holds).
    That costs what the bash probe saved (a Node.js start every 5 s)."""
    if not tls_on:
        return f"bash {PING_SH} {port}"
    return (
        f"mongosh --quiet --norc --tls --tlsCAFile {CA_PATH} --host localhost --port {port} "
        "--eval 'quit(db.adminCommand({ping: 1}).ok === 1 ? 0 : 1)'"
    )


def rs_spec(layout: Layout) -> dict[str, Any]:
    """The desired set, as mongo-rs-plan.js reads it from RS_SPEC."""
    members: list[dict[str, Any]] = [
        {
            "host": layout.member_host(i),
            "priority": role.priority,
            "votes": role.votes,
            "hidden": role.hidden,
            "secondaryDelaySecs": role.secondary_delay_secs,
            "arbiterOnly": False,
        }
        for i, role in enumerate(layout.roles)
    ]
    if layout.config.arbiter:
        i = len(layout.roles)
        members.append(
            {
                "host": layout.member_host(i),
                "priority": 0,
                "votes": 1,
                "hidden": False,
                "secondaryDelaySecs": 0,
                "arbiterOnly": True,
            }
        )
    spec: dict[str, Any] = {
        "setName": layout.config.replica_set,
        "rootUser": layout.config.root_user,
        "authSource": layout.config.auth_source,
        "members": members,
    }
    # Only when there are users, so that a stack without any keeps its spec
    # (and its init container) unchanged. Passwords travel in USERS_PATH.
    if layout.config.users:
        spec["users"] = [{"name": u.name, "roles": u.roles()} for u in layout.config.users]
    return spec


def client_hosts(layout: Layout) -> list[str]:
    """Seed list for clients: visible data-bearing members (hidden ones never
    serve clients; an arbiter holds no data)."""
    return [layout.member_host(i) for i, role in enumerate(layout.roles) if not role.hidden]


def connection_url(
    layout: Layout,
    password: str,
    hosts: Sequence[str],
    *,
    user: str | None = None,
    database: str = "",
    **extra: str,
) -> str:
    """A `mongodb://` URL as the root user (or `user`), authenticating against
    `authSource`; `database`: the default database in the path."""
    query = {"authSource": layout.config.auth_source, **extra}
    if layout.config.tls.enabled:
        query["tls"] = "true"
    name = layout.config.root_user if user is None else user
    creds = f"{quote(name, safe='')}:{quote(password, safe='')}"
    return f"mongodb://{creds}@{','.join(hosts)}/{database}?{urlencode(query)}"


def user_output(
    layout: Layout, user: MongoUser, root_password: str, **options: str
) -> dict[str, Any]:
    """One application user's connection output (MongoUserOutput): its
    password by Redis users' scheme, from the root password, and the
    in-network replica set URL with its first database as the default one."""
    password = user_password(root_password, user.name, user.generation)
    databases = user.target_databases
    url = connection_url(
        layout,
        password,
        client_hosts(layout),
        user=user.name,
        database=databases[0] if databases else "",
        **options,
    )
    return {
        "username": user.name,
        "password": password,
        "generation": user.generation,
        "preset": user.kind,
        "roles": user.roles(),
        "databases": databases,
        "url": url,
    }


def users_file(config: MongoConfig, root_password: str) -> str:
    """What the init container reads from USERS_PATH: each user's password."""
    return json.dumps(
        {u.name: user_password(root_password, u.name, u.generation) for u in config.users},
        sort_keys=True,
    )


def tls_secret(key_file: str) -> str:
    """What the set's CA and member keys derive from: the keyFile's text."""
    text = "".join(key_file.split())
    if len(text) < MIN_TLS_KEY_FILE:
        raise ValueError(
            f"infra:mongoKeyFile has {len(text)} characters; with mongo.tls the set's CA and "
            f"member keys derive from it, which needs at least {MIN_TLS_KEY_FILE} (remove it "
            "and `infra up` generates one, or `openssl rand -base64 756`)"
        )
    return text


class MongoTls:
    """`mongo.tls`: the set's own CA and one certificate per member
    (components/tls.py: derived keys, deterministic signatures, renewal by period).

    Its own CA, not the Redis tier's: the Redis CA derives from
    `infra:redisPassword`, so a Mongo-only stack would need a Redis secret, a
    Redis password change (an outage of Redis by design) would also replace
    every Mongo member with certificates no running member trusts, and a leak of
    either secret would open both tiers (which is why the stack refuses one
    password for both). Derived from the keyFile (`infra:mongoKeyFile`), not
    from the root password: changing the root password is an in-place reset
    today (the init container updates the user, no member changes), while every
    member must trust the same CA at all times; the keyFile is already what the
    members share to trust each other (changing it already restarts them all),
    and whoever holds it is `__system`, above root. Clients trust the CA from
    the `mongoCaCert` output.

    Key material reaches a container only as a Pulumi secret in an upload
    (never its command, environment or labels), as Redis does (RedisTier.tls_uploads).
    """

    def __init__(self, layout: Layout, key_file: pulumi.Output[str]) -> None:
        self.layout = layout
        self.secret = key_file.apply(tls_secret)
        prefix = layout.site.prefix
        self.authority: pulumi.Output[tls.Authority] = self.secret.apply(
            lambda s: tls.generated_ca(s, prefix)
        )

    def ca_pem(self) -> pulumi.Output[str]:
        """The CA certificate clients trust (public: not a secret)."""
        return pulumi.Output.unsecret(self.authority.apply(lambda ca: ca.pem))

    def ca_upload(self) -> docker.ContainerUploadArgs:
        return docker.ContainerUploadArgs(file=CA_PATH, content=self.ca_pem(), permissions="0644")

    def sans(self, i: int) -> list[str]:
        """Every name and address a client uses for member i (Redis' rule,
        redis_base.node_sans): its container name (the set config's name on one
        engine), its container address, its host's address across hosts (the
        set config's name there), the host endpoint, and loopback (its healthcheck)."""
        return node_sans(self.layout.node(i), self.layout.site)

    def member_uploads(self, i: int) -> list[docker.ContainerUploadArgs]:
        """Member i's CA and its certificate-and-key PEM (a secret in the state)."""
        name, sans = self.layout.host_name(i), self.sans(i)
        period = tls.period_of(tls.utc_today(), self.layout.config.tls)
        issued: pulumi.Output[tls.NodeCert] = pulumi.Output.all(self.authority, self.secret).apply(
            lambda v: tls.node_cert(v[0], v[1], name, sans, period)
        )
        pem: pulumi.Output[str] = pulumi.Output.secret(
            issued.apply(lambda c: c.cert_pem + c.key_pem)
        )
        return [
            self.ca_upload(),
            docker.ContainerUploadArgs(file=TLS_PEM_UPLOAD, content=pem, permissions="0400"),
        ]


def preferred_primary(layout: Layout) -> int:
    return max(range(len(layout.roles)), key=lambda i: layout.roles[i].priority)


def member_outputs(layout: Layout) -> list[dict[str, Any]]:
    """The `members` output: each member as the set config names it, where it
    is reached (`ip`: its container address, or its host's address across
    hosts, where `dockerHost` names the host it runs on) and its role."""
    out = []
    for i, m in enumerate(rs_spec(layout)["members"]):
        node = layout.node(i)
        placed = {} if node.host is None else {"dockerHost": node.host}
        out.append(
            {
                "name": layout.host_name(i),
                "host": m["host"],
                "ip": node.ip,
                "hostPort": layout.port(i) if layout.config.publish else None,
                **{k: m[k] for k in ("priority", "votes", "hidden", "secondaryDelaySecs")},
                "arbiterOnly": m["arbiterOnly"],
                **placed,
            }
        )
    return out


def host_access(layout: Layout) -> tuple[str, str]:
    """Where `hostDirectUrl` reaches the preferred primary, and the /etc/hosts
    line that lets the Docker host use the in-network names. Across hosts the
    set config names members by reachable addresses: the primary at its own,
    and no hosts line is needed (empty)."""
    primary = preferred_primary(layout)
    if layout.site.hosts:
        return layout.member_host(primary), ""
    host_ip = "127.0.0.1" if layout.site.host_bind == "0.0.0.0" else layout.site.host_bind
    names = " ".join(layout.host_name(i) for i in range(layout.member_count))
    return f"{host_ip}:{layout.port(primary)}", f"{host_ip} {names}"


def handover_members(name: str, layout: Layout) -> ho.MongoMembers:
    """What the rolling hooks need (components/mongo_handover.py): every member
    container by resource name, its published host endpoint and its name in the
    set config, plus the roles the init container applies (who can be elected,
    who is delayed). The root password is added once known."""
    count, bind = layout.member_count, layout.site.host_bind
    return ho.MongoMembers(
        endpoints={
            layout.resource(name, i): dn.host_endpoint(layout.node(i), bind) for i in range(count)
        },
        hosts={layout.resource(name, i): layout.member_host(i) for i in range(count)},
        user=layout.config.root_user,
        auth_source=layout.config.auth_source,
        arbiters=[layout.resource(name, i) for i in range(count) if layout.is_arbiter(i)],
        electable=[layout.member_host(i) for i, r in enumerate(layout.roles) if r.priority > 0],
        delays={
            layout.member_host(i): r.secondary_delay_secs
            for i, r in enumerate(layout.roles)
            if r.secondary_delay_secs
        },
    )


class MongoReplicaSet(InfraComponent):
    """A MongoDB replica set whose members sit at fixed addresses on one network.

    Members are named `<prefix>-<i>` (container name, hostname and network
    alias) and listen on `port_base + i`; the replica set config advertises
    exactly these `name:port` pairs. Containers on the stack network resolve
    them through Docker's DNS. The Docker host reaches the same ports 1:1 on
    `host_bind`: with the `hosts_entry` line in /etc/hosts, the in-network
    connection string works unchanged on the host (failover and secondary reads
    included); without it, `host_direct_url` talks to the preferred primary
    only (`directConnection=true`).

    Across several Docker hosts (`site.hosts`) each member runs on its placed
    host's engine and network, and the set config names it `<host address>:
    <port>` (`Layout.member_host`), published 1:1: no container network spans
    the hosts, so those are the only addresses every member, the init
    container (on the first host) and clients share. `url` and `host_url` are
    then the same, and `hosts_entry` is empty.
    """

    exports_model = MongoExports
    members: pulumi.Output[list[dict[str, Any]]]
    url: pulumi.Output[str]
    host_url: pulumi.Output[str | None]
    host_direct_url: pulumi.Output[str | None]
    hosts_entry: pulumi.Output[str]
    root_password: pulumi.Output[str]
    users: pulumi.Output[dict[str, dict[str, Any]]]
    ca_cert: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        config: MongoConfig,
        site: dn.Site,
        root_password: pulumi.Input[str],
        key_file: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("infra:mongo:ReplicaSet", name, None, opts)
        layout = self.layout = Layout.of(config, site)
        password = pulumi.Output.secret(root_password)
        key = pulumi.Output.secret(key_file).apply(check_key_file)
        self.tls = MongoTls(layout, key) if config.tls.enabled else None
        images = dn.Images(name, config.image, site, self)
        hooks = self._rolling(name, layout, password)
        containers = [
            self._member(name, layout, i, images.on(layout.node(i).host), key, hooks)
            for i in range(layout.member_count)
        ]
        # The init container runs on the first host (the component's default
        # provider) and reaches members at their `member_host` addresses.
        init = self._init(name, layout, images.on(), key, password, containers)
        self._set_outputs(layout, password, init)

    def _rolling(
        self, name: str, layout: Layout, password: pulumi.Output[str]
    ) -> pulumi.ResourceHookBinding | None:
        """Replacements roll one member at a time (components/rolling.py): those
        not answering first, then secondaries and the arbiter, the primary last,
        stepped down to a caught-up secondary first; each next one once the
        replaced member serves again, caught up (components/mongo_handover.py).

        The arbiter takes turns too: it holds no data, but it is a vote, and in
        a primary-secondary-arbiter set losing it together with a data member
        leaves one vote of three, so no primary. Its turn only waits for a ready
        set before and for it to be ARBITER again after. The init container has
        no turn: it holds no data and no vote (it only reconciles the config).
        `rollout: all-at-once` lets the engine replace them together."""
        if layout.config.rollout != "rolling":
            return None
        members = handover_members(name, layout)
        password.apply(members.secret.append)
        if self.tls is not None:  # the hand-overs verify the members with the CA
            self.tls.ca_pem().apply(members.ca_pem.append)
        roller = Roller(
            name,
            hand_over=lambda member: ho.hand_over(members, member),
            rejoined=lambda member: ho.rejoined(members, member),
            rank=lambda member: ho.rank(members, member),
            members=list(members.endpoints),
        )
        return roller.hooks()

    def _member(
        self,
        name: str,
        layout: Layout,
        i: int,
        image: pulumi.Output[str],
        key_file: pulumi.Output[str],
        hooks: pulumi.ResourceHookBinding | None,
    ) -> docker.Container:
        host, port, arbiter = layout.host_name(i), layout.port(i), layout.is_arbiter(i)
        on = layout.docker_host(i)
        provider = None if on is None else on.provider
        network = layout.site.network if on is None else on.network
        suffix = "arbiter" if arbiter else str(i)
        volume = dn.data_volume(f"{name}-data-{suffix}", host, layout.site.labels, self, provider)
        uploads = [
            docker.ContainerUploadArgs(file=KEYFILE_UPLOAD, content=key_file, permissions="0400")
        ]
        if self.tls is None:
            uploads.append(
                docker.ContainerUploadArgs(
                    file=PING_SH, content=dn.script_text("mongo-ping.sh"), permissions="0755"
                )
            )
        else:
            uploads += self.tls.member_uploads(i)
        return dn.service_container(
            layout.resource(name, i),
            name=host,
            hostname=host,
            image=image,
            command=mongod_command(layout, i),
            uploads=uploads,
            networks_advanced=dn.network_attachment(network, layout.ip(i), [host]),
            ports=layout.published(i),
            volumes=dn.volume_mount(volume, DATA_DIR),
            healthcheck=dn.shell_healthcheck(
                member_health(port, self.tls is not None),
                interval="5s",
                timeout="10s",
                retries=6,
                start_period="30s",
            ),
            memory=ARBITER_MEMORY_MB if arbiter else layout.config.memory_mb,
            wait_timeout=120,
            stop_grace_s=dn.MONGO_STOP_GRACE_S,
            labels={
                **layout.site.labels,
                "infra.role": "mongo-arbiter" if arbiter else "mongo-member",
            },
            parent=self,
            hooks=hooks,
            provider=provider,
        )

    def _init(
        self,
        name: str,
        layout: Layout,
        image: pulumi.Output[str],
        key_file: pulumi.Output[str],
        password: pulumi.Output[str],
        members: list[docker.Container],
    ) -> docker.Container:
        """Initiates and reconciles the set, then stays up as its health probe.

        It holds the cluster key only for bootstrap (initiating the set before
        any user exists, or resetting a root password that no longer logs in);
        once the root user works it deletes the uploaded key and talks to the
        members as root, and creates or updates the application users
        (`mongo.users`, passwords from USERS_PATH: never in its command or
        environment). With `mongo.tls` it connects over TLS, verifying the
        members with the CA (TLS_CA_FILE).

        Long-running rather than one-shot, like the Redis init container: with
        `wait=True` a set that never gets a primary fails `pulumi up` (a one-shot
        container that exits is invisible to pulumi-docker unless it is attached),
        and `docker ps` keeps showing the set's health afterwards. Its inputs are
        the desired member list and the secrets, so a second `up` leaves it
        alone, and a changed member list replaces it: the new one reconfigures
        the running set one safe step at a time.
        """
        init_name = f"{layout.site.prefix}-init"
        init_ip = layout.site.ips("mongo-init", 1)[0]
        uploads = [
            docker.ContainerUploadArgs(
                file=INIT_JS, content=dn.script_text("mongo-rs-init.js"), permissions="0644"
            ),
            docker.ContainerUploadArgs(
                file=PLAN_JS, content=dn.script_text("mongo-rs-plan.js"), permissions="0644"
            ),
            docker.ContainerUploadArgs(file=KEYFILE_UPLOAD, content=key_file, permissions="0400"),
            docker.ContainerUploadArgs(
                file=ROOT_PASSWORD_PATH, content=password, permissions="0400"
            ),
        ]
        envs = [
            f"RS_SPEC={json.dumps(rs_spec(layout), sort_keys=True)}",
            f"PLAN_JS={PLAN_JS}",
            f"KEYFILE={KEYFILE_UPLOAD}",
            f"ROOT_PASSWORD_FILE={ROOT_PASSWORD_PATH}",
            f"HEALTH_FILE={HEALTH_FILE}",
            "WAIT_SECONDS=240",
        ]
        if self.tls is not None:
            uploads.append(self.tls.ca_upload())
            envs.append(f"TLS_CA_FILE={CA_PATH}")
        if layout.config.users:
            config = layout.config
            content = password.apply(lambda pw: users_file(config, pw))
            uploads.append(
                docker.ContainerUploadArgs(file=USERS_PATH, content=content, permissions="0400")
            )
            envs.append(f"USERS_FILE={USERS_PATH}")
        return dn.service_container(
            f"{name}-init",
            name=init_name,
            hostname=init_name,
            image=image,
            # Through `sh` so that the image's entrypoint does not drop to the
            # mongodb user, who could not read the root-owned secrets.
            command=["sh", "-c", f"exec mongosh --nodb --quiet --norc {INIT_JS}"],
            envs=envs,
            uploads=uploads,
            networks_advanced=dn.network_attachment(layout.site.network, init_ip, [init_name]),
            healthcheck=dn.shell_healthcheck(
                INIT_HEALTH, interval="3s", retries=3, start_period="4m0s"
            ),
            memory=INIT_MEMORY_MB,
            wait_timeout=300,
            labels={**layout.site.labels, "infra.role": "mongo-init"},
            parent=self,
            depends_on=members,
        )

    def _set_outputs(
        self, layout: Layout, password: pulumi.Output[str], init: docker.Container
    ) -> None:
        members = member_outputs(layout)
        rs_options = {
            "replicaSet": layout.config.replica_set,
            "readPreference": layout.config.read_preference,
        }
        direct, hosts_entry = host_access(layout)
        # The URLs depend on the init container: they are only useful once the
        # set is initiated and the root user exists.
        ready = pulumi.Output.all(password, init.id)
        self.members = pulumi.Output.from_input(members)
        self.root_password = password
        self.url = ready.apply(
            lambda v: connection_url(layout, v[0], client_hosts(layout), **rs_options)
        )
        self.host_url = ready.apply(
            lambda v: (
                connection_url(layout, v[0], client_hosts(layout), **rs_options)
                if layout.config.publish
                else None
            )
        )
        self.host_direct_url = ready.apply(
            lambda v: (
                connection_url(layout, v[0], [direct], directConnection="true")
                if layout.config.publish
                else None
            )
        )
        self.hosts_entry = pulumi.Output.from_input(hosts_entry)
        # One secret output per application user, once the init container (which
        # creates them) is up.
        users = layout.config.users
        self.users = pulumi.Output.secret(
            ready.apply(
                lambda v: {u.name: user_output(layout, u, v[0], **rs_options) for u in users}
            )
        )
        self.ca_cert = None if self.tls is None else self.tls.ca_pem()
        self.register_outputs(
            {
                "members": self.members,
                "url": self.url,
                "hostUrl": self.host_url,
                "hostDirectUrl": self.host_direct_url,
                "hostsEntry": self.hosts_entry,
                "rootPassword": self.root_password,
                "users": self.users,
                "caCert": self.ca_cert,
            }
        )


def scrape_targets(replica_set: MongoReplicaSet) -> list[ScrapeTarget]:
    """Every member, for a mongodb_exporter (none can be run here yet, so the
    monitoring tier lists them as unscraped)."""
    layout = replica_set.layout
    return [
        ScrapeTarget(
            "mongodb",
            "mongodb",
            layout.node(i).address,
            {"instance": layout.host_name(i), "replica_set": layout.config.replica_set},
        )
        for i in range(layout.member_count)
    ]

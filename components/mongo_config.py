"""Typed config for the MongoDB replica set (`infra:mongo`)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.config_base import (
    ComponentConfig,
    Exports,
    Model,
    check_image,
    field_error,
    port_problems,
    problems_error,
)
from components.placement import PlacementConfig
from components.redis_users import Preset
from components.tls import TlsConfig

MAX_MEMBERS = 50  # MongoDB's limit on replica set members
MAX_VOTING = 7  # MongoDB's limit on voting members
MIN_VOTING = 3  # fewer cannot lose a member and still elect a primary
# The arbiter's port is portBase + 50 (components.mongo_replicaset): past every
# data member's port, so it never changes when data members come or go.
ARBITER_PORT_OFFSET = MAX_MEMBERS
PREFERRED_PRIORITY = 2.0  # member 0 unless memberSettings say otherwise
DEFAULT_PRIORITY = 1.0

ReadPreference = Literal[
    "primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"
]
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_USER_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Application users: Redis users' names (components/redis_users.py), so that one
# application can have the same name in both; also a valid database name.
_APP_USER_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# A database name: MongoDB refuses /\. "$ (and more on Windows) and more than 63 bytes.
_DATABASE_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
# Not for application data: users and the set's own state live there.
_SYSTEM_DATABASES = ("admin", "local", "config")


@dataclass(frozen=True)
class MemberRole:
    """Effective replica set settings of one data-bearing member: what
    `memberSettings` resolve to, and what the init container applies."""

    priority: float = DEFAULT_PRIORITY
    votes: int = 1
    hidden: bool = False
    secondary_delay_secs: int = 0


class MemberSettings(Model):
    """Overrides for one data-bearing member, by position (entry i is member i).

    Unset `priority` means: 2 for member 0 (the preferred primary), 1 for the
    others, 0 for hidden, delayed or non-voting members, whom MongoDB never
    lets become primary. Unset `votes` means 1, or 0 for a delayed member.
    """

    priority: float | None = Field(default=None, ge=0, le=1000)
    votes: Literal[0, 1] | None = None
    hidden: bool = False
    secondary_delay_secs: int = Field(default=0, ge=0, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _consistent(self) -> MemberSettings:
        """MongoDB's own rules for member roles, refused here with the fix."""
        electable = self.priority is not None and self.priority > 0
        if self.secondary_delay_secs and not self.hidden:
            raise field_error(
                "hidden",
                "a delayed member must be hidden, or applications would read stale data "
                "(set hidden: true)",
            )
        if self.secondary_delay_secs and self.votes == 1:
            raise field_error(
                "votes",
                "a delayed member must not vote: a voting delayed member holds back the "
                "majority commit point (remove votes or set votes: 0)",
            )
        if electable and (self.hidden or self.secondary_delay_secs):
            raise field_error(
                "priority",
                "a hidden or delayed member can never become primary: its priority must "
                "be 0 (remove priority or set priority: 0)",
            )
        if electable and self.votes == 0:
            raise field_error(
                "priority",
                "MongoDB requires non-voting members to have priority 0 "
                "(remove priority or set votes: 1)",
            )
        return self


class MongoUser(Model):
    """One application user (`mongo.users`): the Redis users' model
    (components/redis_users.py) mapped to MongoDB's built-in roles ("Built-In
    Roles" in MongoDB's manual).

    - `readwrite` (the default): `readWrite` on each of `databases`;
    - `readonly`: `read` on each of `databases`;
    - `monitoring`: `clusterMonitor` (read-only monitoring of the whole set:
      serverStatus, replSetGetStatus, ...; what a mongodb_exporter needs), no data;
    - `admin`: `root`, like Redis' admin preset (every command): user and replica
      set administration included. Give it to operators, not applications.

    `databases` defaults to one database named like the user. Users are created
    in `mongo.authSource` (`admin`), as the root user is. Their passwords derive
    from `infra:mongoRootPassword`, the user's name and `generation`, by Redis
    users' scheme (`redis_users.user_password`), and are secret stack outputs.

    MongoDB keeps ONE password per user (Redis keeps several), so raising
    `generation` makes the old password stop working as soon as the init
    container has updated the user, before the clients have the new one. The
    outage-free route is a second user: add `app-v2`, `infra up`, move the
    clients to it, remove `app`, `infra up` (infra drops the users it created
    and no longer lists). `keepPrevious` is refused for that reason.
    """

    name: str
    preset: Preset = "readwrite"
    databases: list[str] | None = Field(default=None, min_length=1, max_length=64)
    generation: int = Field(default=1, ge=1, le=10_000)
    # Mirrors redis.users[].keepPrevious, which MongoDB cannot honour: refused.
    keep_previous: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _APP_USER_RE.match(value):
            raise ValueError(
                f"'{value}' is not a user name: lower-case letters, digits, '_' and '-', "
                "starting with a letter, at most 32"
            )
        return value

    @field_validator("databases")
    @classmethod
    def _databases(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        bad = [d for d in value if not _DATABASE_RE.match(d)]
        if bad:
            raise ValueError(f"{bad}: a database name is 1-63 of A-Z a-z 0-9 _ -")
        system = [d for d in value if d in _SYSTEM_DATABASES]
        if system:
            raise ValueError(
                f"{system}: admin, local and config hold users and the set's own state, not "
                "application data: name the application's database (e.g. databases: [app])"
            )
        return value

    @field_validator("keep_previous")
    @classmethod
    def _keep_previous(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "MongoDB keeps one password per user, so the previous one cannot stay valid "
                "during a rotation: remove keepPrevious, and rotate through a second user "
                "(add app-v2, move the clients to it, then remove app), or raise generation "
                "alone and accept that the clients' logins fail until they use the new password"
            )
        return value

    @model_validator(mode="after")
    def _databases_for_data_presets(self) -> MongoUser:
        if self.databases is not None and self.preset in ("monitoring", "admin"):
            scope = "clusterMonitor" if self.preset == "monitoring" else "root"
            raise field_error(
                "databases",
                f"user '{self.name}': the {self.preset} preset ({scope}) applies to the whole "
                "set, not to databases (remove databases, or use preset readwrite/readonly)",
            )
        return self

    @property
    def kind(self) -> str:
        return self.preset

    @property
    def target_databases(self) -> list[str]:
        """The databases the data presets grant (monitoring and admin: none)."""
        if self.preset not in ("readwrite", "readonly"):
            return []
        return list(self.databases) if self.databases is not None else [self.name]

    def roles(self) -> list[dict[str, str]]:
        """The user's MongoDB roles, as createUser/updateUser take them."""
        if self.preset == "monitoring":
            return [{"role": "clusterMonitor", "db": "admin"}]
        if self.preset == "admin":
            return [{"role": "root", "db": "admin"}]
        role = "readWrite" if self.preset == "readwrite" else "read"
        return [{"role": role, "db": db} for db in self.target_databases]


class MongoConfig(ComponentConfig):
    """MongoDB replica set settings.

    Defaults give the design document's 3 data-bearing members with member 0
    as the preferred primary; `enabled` is false so that stacks written before
    this component existed are unaffected.
    """

    enabled: bool = False
    image: str = "mongo:8.0.4"
    replica_set: str = "rs0"
    members: int = Field(default=3, ge=1, le=MAX_MEMBERS)
    member_settings: list[MemberSettings] = Field(default_factory=list, max_length=MAX_MEMBERS)
    arbiter: bool = False
    memory_mb: int = Field(default=1024, ge=512, le=262144)
    port_base: int = Field(default=27017, ge=1024, le=65535)
    # Which host runs which member, when the stack has `hosts` (components/placement.py).
    placement: PlacementConfig = PlacementConfig()
    publish: bool = True
    root_user: str = "root"
    auth_source: str = "admin"
    read_preference: ReadPreference = "primary"
    # How `up` replaces members when a change forces it (components/rolling.py,
    # components/mongo_handover.py): one member at a time, the primary stepped
    # down to a caught-up secondary first, or all at once (no primary until they
    # are back, faster on a laptop whose data does not matter).
    rollout: Literal["rolling", "all-at-once"] = "rolling"
    # Application users, created by the init container (MongoUser).
    users: list[MongoUser] = Field(default_factory=list)
    # TLS on every link (`--tlsMode requireTLS`) with the set's own CA
    # (components/mongo_replicaset.py, `MongoTls`). Off unless set, like redis.tls.
    tls: TlsConfig = TlsConfig()

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @field_validator("replica_set")
    @classmethod
    def _replica_set(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"'{value}' is not a replica set name: use 1-64 of A-Z a-z 0-9 _ -")
        return value

    @field_validator("root_user")
    @classmethod
    def _root_user(cls, value: str) -> str:
        if not _USER_RE.match(value):
            raise ValueError(f"'{value}' is not a user name: use 1-64 of A-Z a-z 0-9 . _ -")
        return value

    @field_validator("auth_source")
    @classmethod
    def _auth_source(cls, value: str) -> str:
        if value in ("local", "config") or not _NAME_RE.match(value):
            raise ValueError(
                f"'{value}' cannot hold users: use 'admin' (or another database name of "
                "A-Z a-z 0-9 _ -, not local or config)"
            )
        return value

    @property
    def member_count(self) -> int:
        """Containers: data-bearing members plus the arbiter, if any."""
        return self.members + int(self.arbiter)

    def member_ports(self) -> list[tuple[str, int, int]]:
        """Member i listens on `portBase + i`, the arbiter on `portBase + 50`."""
        ports = [("portBase", self.port_base, self.port_base + self.members - 1)]
        if self.arbiter:
            arbiter = self.port_base + ARBITER_PORT_OFFSET
            ports.append(("portBase", arbiter, arbiter))
        return ports

    def host_ports(self) -> list[tuple[str, int, int]]:
        """Members publish their own port 1:1 on the host, when `publish` is set."""
        return self.member_ports() if self.publish else []

    def member_roles(self) -> list[MemberRole]:
        """Effective settings of every data-bearing member, in order."""
        roles = []
        for i in range(self.members):
            s = self.member_settings[i] if i < len(self.member_settings) else MemberSettings()
            delayed = s.secondary_delay_secs > 0
            votes = s.votes if s.votes is not None else (0 if delayed else 1)
            if s.priority is not None:
                priority = s.priority
            elif s.hidden or delayed or votes == 0:
                priority = 0.0
            else:
                priority = PREFERRED_PRIORITY if i == 0 else DEFAULT_PRIORITY
            roles.append(MemberRole(priority, votes, s.hidden, s.secondary_delay_secs))
        return roles

    @property
    def data_voters(self) -> int:
        return sum(r.votes for r in self.member_roles())

    @property
    def voters(self) -> int:
        return self.data_voters + int(self.arbiter)

    @model_validator(mode="after")
    def _topology(self) -> MongoConfig:
        problems = self._topology_problems()
        if problems:
            raise problems_error("MongoConfig", problems)
        return self

    def _topology_problems(self) -> list[tuple[str, str]]:
        """Every whole-set problem at once, as (camelCase field, message)."""
        problems: list[tuple[str, str]] = []
        if len(self.member_settings) > self.members:
            problems.append(
                (
                    "memberSettings",
                    f"{len(self.member_settings)} entries but mongo.members is {self.members}: "
                    "one entry per data-bearing member at most",
                )
            )
        problems += self._voting_problems() + self._user_problems() + self._tls_problems()
        # Published or not, the members listen on these ports inside their containers.
        return problems + port_problems("mongo", self.member_ports())

    def _user_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        counts = Counter(u.name for u in self.users)
        dupes = sorted(name for name, n in counts.items() if n > 1)
        if dupes:
            problems.append(("users", f"{', '.join(dupes)} listed twice: each user once"))
        if any(u.name == self.root_user for u in self.users):
            problems.append(
                (
                    "users",
                    f"'{self.root_user}' is mongo.rootUser, infra's own login: give the "
                    "application user another name",
                )
            )
        return problems

    def _tls_problems(self) -> list[tuple[str, str]]:
        if self.tls.ca_cert is None:
            return []
        return [
            (
                "tls.caCert",
                "bringing your own CA is not wired for MongoDB yet (its key would need a "
                "secret of its own); remove mongo.tls.caCert, and the set gets its own CA "
                "(the mongoCaCert output)",
            )
        ]

    def _voting_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        roles = self.member_roles()
        if not any(r.priority > 0 for r in roles):
            problems.append(
                (
                    "memberSettings",
                    "no member can become primary: give at least one voting, visible member "
                    "a priority above 0",
                )
            )
        if self.arbiter and self.data_voters % 2 == 1:
            problems.append(
                (
                    "arbiter",
                    f"{self.data_voters} voting data-bearing members already make an odd number "
                    f"of votes; an arbiter would make it even ({self.voters}). An arbiter only "
                    "breaks ties: remove mongo.arbiter, or add a data-bearing member instead",
                )
            )
        elif self.voters % 2 == 0 or not MIN_VOTING <= self.voters <= MAX_VOTING:
            problems.append(
                (
                    "members",
                    f"the set would have {self.voters} voting members; MongoDB needs an odd "
                    f"number between {MIN_VOTING} and {MAX_VOTING} to elect a primary "
                    "(set mongo.members to 3, 5 or 7, or make extra members non-voting with "
                    "memberSettings[i].votes: 0)",
                )
            )
        return problems

    def advisories(self) -> list[str]:
        """Allowed but discouraged setups: the program logs these as warnings."""
        if not self.arbiter:
            return []
        notes = [
            "mongo.arbiter: MongoDB advises against arbiters, and against running one on a "
            "host that also holds data-bearing members (every container here shares one "
            "Docker host); prefer another data-bearing member"
        ]
        majority = self.voters // 2 + 1
        if self.data_voters <= majority:
            notes.append(
                f"mongo.arbiter: with {self.data_voters} data-bearing voters and an arbiter "
                "(PSA), MongoDB's implicit default write concern drops to w:1, so acknowledged "
                "writes can be rolled back. infra sets the cluster-wide default to "
                "w:majority instead, which means writes wait while a data-bearing member "
                "is down"
            )
        return notes


class MongoUserOutput(Exports):
    """One application user's connection (a secret output): `url` is the
    in-network replica set URL, logged in as the user, its first database as
    the default one, `tls=true` with mongo.tls."""

    username: str
    password: str
    generation: int
    preset: str
    roles: list[dict[str, str]]
    databases: list[str]
    url: str


class MongoExports(Exports):
    """Stack outputs of the replica set (components/mongo_replicaset.py)."""

    prefix: ClassVar[str] = "mongo_"

    mongo_members: list[dict[str, Any]]
    mongo_url: str
    mongo_host_url: str | None
    mongo_host_direct_url: str | None
    mongo_hosts_entry: str
    mongo_root_password: str
    # Outputs of stacks deployed before users existed have none.
    mongo_users: dict[str, MongoUserOutput] = {}
    # The CA clients verify the members with (PEM); None: plaintext (mongo.tls off).
    mongo_ca_cert: str | None = None

"""Typed config for the MongoDB replica set (`infra:mongo`)."""

from __future__ import annotations

import re
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
        problems += self._voting_problems()
        # Published or not, the members listen on these ports inside their containers.
        return problems + port_problems("mongo", self.member_ports())

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


class MongoExports(Exports):
    """Stack outputs of the replica set (components/mongo_replicaset.py)."""

    prefix: ClassVar[str] = "mongo_"

    mongo_members: list[dict[str, Any]]
    mongo_url: str
    mongo_host_url: str | None
    mongo_host_direct_url: str | None
    mongo_hosts_entry: str
    mongo_root_password: str

"""Application users of the Redis tier (`redis.users`): Redis ACL users.

Each application gets its own user, limited by a preset (or raw ACL rules) to
the commands and key patterns it needs, so a cache client cannot `FLUSHALL`,
`CONFIG SET` or read another application's keys. The users are written into
every node's `redis.conf` as `user` lines (Redis ACL, "ACL rules" in the
redis.io docs): each node loads the same list at start, which Redis Cluster
needs, since ACLs are per node and not replicated.

Passwords are never written anywhere in clear: the conf holds their SHA-256
(`#<hex>`, which `ACL SETUSER` accepts for exactly this purpose), and the
password itself is a secret stack output. It is derived (HMAC-SHA256) from the
stack's Redis password, the user's name and its `generation`, so the stack
needs no new secret and every preview computes the same value; whoever holds
the stack password is already the admin.

Rotation without an auth failure uses Redis' several passwords per user: raise
`generation` with `keepPrevious: true` and `infra up` (every node then accepts
the new and the old password, and the output publishes the new one once every
node has it); move the clients to the new password; then `keepPrevious: false`
and `infra up` again, after which the old one stops working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from components.config_base import Model

Preset = Literal["readwrite", "readonly", "monitoring", "admin"]

# What a Redis Cluster client needs besides its data commands: the slot map
# (redis-py asks CLUSTER SLOTS, others CLUSTER SHARDS or NODES), ASKING during a
# slot migration, READONLY/READWRITE to read from replicas.
_CLUSTER_CLIENT = (
    "+cluster|slots +cluster|shards +cluster|nodes +cluster|info +cluster|keyslot "
    "+asking +readonly +readwrite"
)
# `-@dangerous` last among the categories: @write holds FLUSHALL and FLUSHDB,
# @read holds KEYS, and @connection holds CLIENT KILL; all are @dangerous.
_PRESET_COMMANDS: dict[str, str] = {
    "readwrite": f"-@all +@read +@write +@connection +@transaction -@dangerous {_CLUSTER_CLIENT}",
    "readonly": f"-@all +@read +@connection -@dangerous {_CLUSTER_CLIENT}",
    # What an exporter reads. Not CONFIG GET: it answers `requirepass` in clear.
    "monitoring": (
        "-@all +@connection -@dangerous +ping +info +cluster|info +cluster|nodes "
        "+cluster|slots +slowlog|get +slowlog|len +latency|latest +memory|stats +dbsize"
    ),
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# A key pattern (glob): no spaces, which would end the rule.
_PATTERN_RE = re.compile(r"^\S{1,128}$")
# Raw rules may grant or take commands and keys; passwords and on/off are infra's.
_RULE_RE = re.compile(
    r"^(?:[+-]@?[a-z][a-z0-9_|-]*|[~%&]\S+|allkeys|allchannels|allcommands|nocommands"
    r"|resetkeys|resetchannels)$"
)
# infra's own login with `redis.defaultUser: disabled`: admin_lines.
ADMIN_USER = "infra"
_MANAGED = "passwords (>, <, #, !, nopass, resetpass), on/off and reset are set by infra"


class RedisUser(Model):
    """One application user. `preset` (default `readwrite`) or raw `rules`;
    `keys`: the key patterns it may touch (default every key; not for
    `monitoring`, which reads no key)."""

    name: str
    preset: Preset | None = None
    keys: list[str] = Field(default_factory=lambda: ["*"])
    rules: list[str] | None = None
    # Which password is current (rotation: raise it); the one before it still
    # works while `keep_previous` is set.
    generation: int = Field(default=1, ge=1, le=10_000)
    keep_previous: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value in ("default", ADMIN_USER):
            raise ValueError(
                f"'{value}' is taken: 'default' is Redis' own user and '{ADMIN_USER}' is "
                "infra's (both log in with the stack password): pick another name"
            )
        if not _NAME_RE.match(value):
            raise ValueError(
                f"'{value}' is not a user name: lower-case letters, digits, '_' and '-', "
                "starting with a letter, at most 32"
            )
        return value

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not _PATTERN_RE.match(p)]
        if bad:
            raise ValueError(f"{bad}: a key pattern is 1-128 characters without spaces")
        return value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        tokens = [t for rule in value for t in rule.split()]
        bad = [t for t in tokens if not _RULE_RE.match(t)]
        if bad:
            raise ValueError(
                f"{bad} not accepted: give commands (+get, -@dangerous, +config|get), key "
                f"and channel patterns (~app:*, %R~cache:*, &events:*); {_MANAGED}"
            )
        if not tokens:
            raise ValueError("empty: give ACL rules such as '+@read ~app:*', or use preset")
        return tokens

    @model_validator(mode="after")
    def _one_source(self) -> RedisUser:
        if self.preset is not None and self.rules is not None:
            raise ValueError(f"user '{self.name}': give preset or rules, not both")
        if self.rules is not None and "keys" in self.model_fields_set:
            raise ValueError(f"user '{self.name}': with rules, give key patterns as ~pattern")
        if self.preset == "monitoring" and "keys" in self.model_fields_set:
            raise ValueError(f"user '{self.name}': the monitoring preset reads no key")
        if self.keep_previous and self.generation == 1:
            raise ValueError(
                f"user '{self.name}': keepPrevious keeps generation - 1's password, and "
                "generation 1 has none before it (raise generation to rotate)"
            )
        return self

    @property
    def kind(self) -> str:
        if self.rules is not None:
            return "rules"
        return self.preset or "readwrite"

    @property
    def key_patterns(self) -> list[str]:
        """The `keys` the user's ACL grants: only the data presets use them
        (monitoring reads no key, admin and raw rules say their own)."""
        return list(self.keys) if self.kind in ("readwrite", "readonly") else []

    def acl_rules(self) -> str:
        """The user's ACL rules after `on` and the password: commands, then keys
        (`resetchannels`: no Pub/Sub unless raw rules grant it)."""
        if self.rules is not None:
            return " ".join(["resetchannels", *self.rules])
        if self.kind == "admin":
            return "allkeys allchannels +@all"
        keys = [f"~{p}" for p in self.key_patterns]
        return " ".join(["resetchannels", _PRESET_COMMANDS[self.kind], *keys])


def check_users(users: list[RedisUser]) -> list[tuple[str, str]]:
    """Model-level problems of a users list: duplicate names."""
    counts = Counter(u.name for u in users)
    dupes = sorted(name for name, n in counts.items() if n > 1)
    if not dupes:
        return []
    return [("users", f"{', '.join(dupes)} listed twice: each user once")]


def user_password(stack_password: str, user: str, generation: int = 1) -> str:
    """The user's password: HMAC-SHA256(stack password, user and generation),
    URL-safe base64 (generation 1 keeps the label users had before rotation)."""
    label = f"infra redis user {user}" + (f" #{generation}" if generation > 1 else "")
    digest = hmac.new(stack_password.encode(), label.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def accepted_passwords(user: RedisUser, stack_password: str) -> list[str]:
    """The passwords every node accepts for `user`: the current one, and the
    previous one during a rotation."""
    current = user_password(stack_password, user.name, user.generation)
    if not user.keep_previous:
        return [current]
    return [current, user_password(stack_password, user.name, user.generation - 1)]


def user_output(
    user: RedisUser, stack_password: str, hosts: str, scheme: str = "redis"
) -> dict[str, Any]:
    """One application user's connection output (RedisUserOutput); `hosts`:
    the URL's host part (a seed node, or the Sentinels)."""
    password = user_password(stack_password, user.name, user.generation)
    return {
        "username": user.name,
        "password": password,
        "generation": user.generation,
        "preset": user.kind,
        "keys": user.key_patterns,
        "url": f"{scheme}://{user.name}:{password}@{hosts}",
    }


def _hashes(user: RedisUser, stack_password: str) -> str:
    return " ".join(
        f"#{hashlib.sha256(pw.encode()).hexdigest()}"
        for pw in accepted_passwords(user, stack_password)
    )


# `defaultUser: disabled`: Redis' `default` user, which every connection is
# before AUTH, may do nothing and cannot log in (`off`, no password left).
DEFAULT_OFF = "user default off resetpass resetkeys resetchannels -@all"


def admin_lines(accepted: Sequence[str]) -> list[str]:
    """`redis.defaultUser: disabled`: `default` reduced to nothing, and infra's
    own user (status, hand-overs, scaling, backup, the exporter, replication and
    Sentinel) with every right, logging in with any of the `accepted` passwords
    (two while `redis.admin` rotates). The same lines on data nodes and
    Sentinels."""
    hashes = " ".join(f"#{hashlib.sha256(p.encode()).hexdigest()}" for p in accepted)
    return [DEFAULT_OFF, f"user {ADMIN_USER} on {hashes} allkeys allchannels +@all"]


def admin_password(stack_password: str, generation: int) -> str:
    """infra's own password of `generation`: the stack password itself at 1
    (what a stack had before rotation), then HMAC-SHA256 of it like a user's."""
    if generation == 1:
        return stack_password
    label = f"infra redis admin #{generation}"
    digest = hmac.new(stack_password.encode(), label.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


AdminStep = Literal["done", "accept", "switch"]


def admin_login(stack_password: str, generation: int, step: AdminStep) -> tuple[str, list[str]]:
    """(the password infra logs in and replicates with, the passwords every
    node accepts) at one step of a rotation of infra's own password
    (`redis.admin`). Three `up`s, each rolling every node and Sentinel, so that
    at no time does a node log in to another that would refuse it:
    - accept: every node accepts the new and the old password; all still use
      the old (a new node must reach old ones, which know only the old);
    - switch: every node now uses the new one (accepted everywhere);
    - done: the old one is forgotten (no node uses it any more)."""
    new = admin_password(stack_password, generation)
    if step == "done":
        return new, [new]
    old = admin_password(stack_password, generation - 1)
    return (old if step == "accept" else new), [new, old]


def acl_line(user: RedisUser, stack_password: str) -> str:
    """The `redis.conf` line of `user`: its passwords only as SHA-256 hashes."""
    return f"user {user.name} on {_hashes(user, stack_password)} {user.acl_rules()}"


# What a Sentinel client needs to find a master set's primary and replicas
# (redis-py's Sentinel asks SENTINEL MASTERS and SENTINEL REPLICAS/SLAVES) and
# to follow failovers (+switch-master on Pub/Sub), and nothing that changes
# Sentinel (no SENTINEL SET/RESET/FAILOVER/REMOVE, no CONFIG).
# Connection commands by category (`+@connection -@dangerous`: Sentinel 7.0 has
# no CLIENT SETINFO, which a named rule would make it refuse to start with).
SENTINEL_DISCOVERY = (
    "-@all +@connection -@dangerous "
    "+sentinel|get-master-addr-by-name +sentinel|masters +sentinel|master "
    "+sentinel|replicas +sentinel|slaves +sentinel|sentinels "
    "+subscribe +psubscribe +unsubscribe +punsubscribe resetchannels &*"
)


def sentinel_acl_line(user: RedisUser, stack_password: str) -> str:
    """The `sentinel.conf` line of `user` (mode: sentinel): the same passwords,
    discovery only; what it may do with the data is on the data nodes."""
    return f"user {user.name} on {_hashes(user, stack_password)} {SENTINEL_DISCOVERY}"

"""Typed stack configuration: one pydantic model per component plus the root."""

from stacks.config.errors import ConfigInvalid, Problem
from stacks.config.mongo import MongoConfig
from stacks.config.network import NetworkConfig
from stacks.config.redis import RedisConfig
from stacks.config.root import (
    SECRET_KEYS,
    StackConfig,
    load_stack_config,
    parse_config,
    read_stack_file,
    stack_file,
)

__all__ = [
    "SECRET_KEYS",
    "ConfigInvalid",
    "MongoConfig",
    "NetworkConfig",
    "Problem",
    "RedisConfig",
    "StackConfig",
    "load_stack_config",
    "parse_config",
    "read_stack_file",
    "stack_file",
]

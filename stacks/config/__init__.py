"""Typed stack configuration: the stack root over the registry's component models."""

from stacks.config.errors import ConfigInvalid, Problem
from stacks.config.network import NetworkConfig
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
    "NetworkConfig",
    "Problem",
    "StackConfig",
    "load_stack_config",
    "parse_config",
    "read_stack_file",
    "stack_file",
]

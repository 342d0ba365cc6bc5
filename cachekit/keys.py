"""Cache keys for decorated functions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

MAX_KEY = 200


def function_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`module.qualname:repr(arguments)`; long argument lists are hashed (BLAKE2b),
    so keys stay short without colliding in practice."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    arguments = repr((args, sorted(kwargs.items())))
    if len(arguments) > MAX_KEY:
        arguments = hashlib.blake2b(arguments.encode(), digest_size=16).hexdigest()
    return f"{name}:{arguments}"

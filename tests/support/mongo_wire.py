"""MongoDB's wire protocol as the tests' stand-in mongods speak it (OP_MSG,
kind-0 section only), encoded with pymongo's own BSON implementation."""

from __future__ import annotations

import struct
from typing import Any

import bson

OP_MSG = 2013


def op_msg(doc: dict[str, Any], request_id: int, response_to: int) -> bytes:
    body = struct.pack("<iB", 0, 0) + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, OP_MSG) + body


def read_exactly(conn: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed early")
        data += chunk
    return data

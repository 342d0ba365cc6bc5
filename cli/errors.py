"""The one error hierarchy the CLI boundary handles; each carries its exit code.

Exit codes (README, "Exit codes"):
  0 ok; 1 the operation failed; 2 invalid config or usage; 3 `--expect-no-changes`
  found changes; 4 a required tool is missing; 5 the stack is locked by another
  update; 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence

OK = 0
FAILED = 1
INVALID = 2
CHANGES_FOUND = 3
TOOL_MISSING = 4
STACK_LOCKED = 5
INTERRUPTED = 130


class InfraError(Exception):
    exit_code = FAILED

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class OperationFailed(InfraError):
    exit_code = FAILED


class InvalidInput(InfraError):
    """Invalid config or usage. Raised before anything is started or touched."""

    exit_code = INVALID


class ChangesFound(InfraError):
    exit_code = CHANGES_FOUND


class ToolMissing(InfraError):
    exit_code = TOOL_MISSING


class StackLocked(InfraError):
    exit_code = STACK_LOCKED

"""The one error hierarchy the CLI boundary handles; each carries its exit code.

Exit codes (README, "Exit codes"):
  0 ok; 1 the operation failed; 2 invalid config or usage; 3 `--expect-no-changes`
  found changes; 4 a required tool is missing; 5 the stack is locked by another
  update; 6 nothing is deployed in the stack; 7 a confirmation was declined
  (nothing changed); 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OK = 0
FAILED = 1
INVALID = 2
CHANGES_FOUND = 3
TOOL_MISSING = 4
STACK_LOCKED = 5
NOTHING_DEPLOYED = 6
CANCELLED = 7
INTERRUPTED = 130


class InfraError(Exception):
    exit_code = FAILED
    # How the message is introduced on stderr: "error: ..." unless the outcome is
    # not a failure of the tool (a declined confirmation).
    label = "error: "

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)

    def as_dict(self) -> dict[str, Any]:
        """The error as `--json` prints it: {"code", "message", "details"}."""
        return {"code": self.exit_code, "message": self.message, "details": self.details}


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


class NothingDeployed(InfraError):
    """The stack has no state or no resources. Its own code, not "ok": an empty
    table or "nothing to check" with exit 0 reads as a healthy tier in scripts."""

    exit_code = NOTHING_DEPLOYED


class Cancelled(InfraError):
    """A confirmation was declined. Not "the operation failed": nothing was attempted."""

    exit_code = CANCELLED
    label = ""


class Interrupted(InfraError):
    exit_code = INTERRUPTED
    label = ""


class InternalError(InfraError):
    """An unexpected exception, reported as one line (the message says "internal error")."""

    exit_code = FAILED
    label = ""

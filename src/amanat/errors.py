"""Errors a user can act on. Each carries one clear line; the CLI prints it and exits non-zero."""

from __future__ import annotations

from typing import Any


class AmanatError(Exception):
    """Base of every error shown to a user: one line naming the rule and the values."""

    exit_code = 1
    rule = "error"

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.rule, "message": self.message, **self.values}


class InvalidInput(AmanatError):
    """A value given by the user is malformed or out of range."""

    exit_code = 2
    rule = "invalid-input"


class NotFound(AmanatError):
    rule = "not-found"


class RuleViolation(AmanatError):
    """The chain (or its pre-check) refused an action under a named rule."""

    exit_code = 3

    def __init__(self, rule: str, message: str, **values: Any) -> None:
        super().__init__(message, **values)
        self.rule = rule


class OwnKeyRequired(RuleViolation):
    """On a network deployment the platform signs only with its own operational keys: an
    institution or an official signs its own transactions (HTTP 403)."""

    exit_code = 4
    RULE = "own-key-required"

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(self.RULE, message, **values)


class Conflict(RuleViolation):
    """Another request is doing the same thing at this moment (HTTP 409): retry once it is done."""


class ChainUnavailable(AmanatError):
    rule = "chain-unavailable"


class DeploymentMismatch(AmanatError):
    rule = "deployment-mismatch"

"""IAM policy documents, as the runbooks' roles use them: load, validate, evaluate a request.

A small evaluator for identity-based policies, enough for the documents in ``iam/``:
statements with ``Effect`` Allow or Deny, ``Action`` and ``Resource`` (a string or a list)
with IAM's wildcards ``*`` (any run of characters, ``:`` and ``/`` included) and ``?`` (one
character). Actions match case-insensitively, resources case-sensitively; an explicit Deny
wins; anything not allowed is denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

``Condition``, ``NotAction``, ``NotResource`` and ``Principal`` are refused: a document that uses
them cannot be evaluated here, and must not be silently evaluated wrong. A request for an action
without resource-level permissions has the resource ``*``, which only ``"Resource": "*"`` allows,
as in IAM.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

VERSION = "2012-10-17"
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource"}


class InvalidPolicy(ValueError):
    """A policy document this module cannot evaluate exactly; the message names the statement and key."""


@dataclass(frozen=True)
class IamRequest:
    """One authorization IAM makes for an API call: an action on a resource (``*`` when the action has no
    resource-level permissions). One API call may need several (e.g. an action and ``iam:PassRole``)."""

    action: str
    resource: str = "*"

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _strings(value: object, where: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise InvalidPolicy(f"{where}: expected a non-empty string or list of non-empty strings, got {value!r}")
    return tuple(values)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    @classmethod
    def from_document(cls, document: object, index: int) -> Statement:
        where = f"Statement[{index}]"
        if not isinstance(document, dict):
            raise InvalidPolicy(f"{where}: expected an object, got {document!r}")
        where = f"Statement[{index}] ({document.get('Sid', 'no Sid')})"
        unsupported = sorted(set(document) - _STATEMENT_KEYS)
        if unsupported:
            raise InvalidPolicy(f"{where}: unsupported keys {unsupported}; supported: {sorted(_STATEMENT_KEYS)}")
        if document.get("Effect") not in ("Allow", "Deny"):
            raise InvalidPolicy(f"{where}: Effect must be 'Allow' or 'Deny', got {document.get('Effect')!r}")
        actions = _strings(document.get("Action"), f"{where}.Action")
        bad = [a for a in actions if not _ACTION.fullmatch(a)]
        if bad:
            raise InvalidPolicy(f"{where}.Action: {bad} are not '<service>:<Action>' names")
        return cls(sid=document.get("Sid", ""), effect=document["Effect"], actions=actions,
                   resources=_strings(document.get("Resource"), f"{where}.Resource"))

    @cached_property
    def _action_patterns(self) -> tuple[re.Pattern, ...]:
        return tuple(_wildcard(a, ignore_case=True) for a in self.actions)

    @cached_property
    def _resource_patterns(self) -> tuple[re.Pattern, ...]:
        return tuple(_wildcard(r, ignore_case=False) for r in self.resources)

    def covers(self, request: IamRequest) -> bool:
        return any(p.fullmatch(request.action) for p in self._action_patterns) and any(
            p.fullmatch(request.resource) for p in self._resource_patterns)


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    @classmethod
    def from_document(cls, document: object, name: str = "policy") -> Policy:
        """Validate an identity-based policy document; raise InvalidPolicy naming what is wrong."""
        if not isinstance(document, dict) or document.get("Version") != VERSION:
            raise InvalidPolicy(f"{name}: expected an object with \"Version\": \"{VERSION}\"")
        unknown = sorted(set(document) - {"Version", "Id", "Statement"})
        if unknown:
            raise InvalidPolicy(f"{name}: unsupported keys {unknown}")
        statements = document.get("Statement")
        statements = [statements] if isinstance(statements, dict) else statements
        if not isinstance(statements, list) or not statements:
            raise InvalidPolicy(f"{name}: Statement must be a non-empty list")
        try:
            return cls(name, tuple(Statement.from_document(s, i) for i, s in enumerate(statements)))
        except InvalidPolicy as exc:
            raise InvalidPolicy(f"{name}: {exc}") from None

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidPolicy(f"{path}: not a readable JSON policy ({exc})") from None
        return cls.from_document(document, str(path))

    def allows(self, request: IamRequest) -> bool:
        """IAM's decision for one request: an explicit Deny wins, then an Allow, else (implicitly) denied."""
        matching = [s for s in self.statements if s.covers(request)]
        return any(s.effect == "Allow" for s in matching) and not any(s.effect == "Deny" for s in matching)

    def unexercised(self, requests: list[IamRequest]) -> list[str]:
        """What the policy grants beyond ``requests``: every ``action on resource`` pair of an Allow statement
        that no allowed request matched (so both the actions and the resource patterns stay exact)."""
        used = [r for r in requests if self.allows(r)]
        return [f"{action} on {resource}" for s in self.statements if s.effect == "Allow"
                for action in s.actions for resource in s.resources
                if not any(Statement("", "Allow", (action,), (resource,)).covers(r) for r in used)]

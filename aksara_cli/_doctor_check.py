"""One check of ``aksara doctor``: the line it prints, and how a check fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Check", "CheckFailed", "Outcome", "Status"]

Status = Literal["ok", "FAIL", "skip"]
Outcome = tuple[Status, str]  # what a check returns: its status and the line's detail


@dataclass(frozen=True)
class Check:
    """The outcome of one check, printed as one line."""

    status: Status
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<13} {self.detail}"


class CheckFailed(Exception):
    """A check failed; the message is the line's detail."""

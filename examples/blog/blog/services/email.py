"""Outgoing e-mail (a stand-in that records what it would send)."""

from __future__ import annotations

SENT: list[dict[str, str]] = []


async def send_email(to: str, subject: str) -> None:
    SENT.append({"to": to, "subject": subject})

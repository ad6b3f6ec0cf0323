"""The payment provider. Tests patch ``process_payment``: it must never run for real."""

from __future__ import annotations

import os
from typing import Any

import httpx


def process_payment(amount: int) -> dict[str, Any]:
    """Charge ``amount`` through the provider's HTTP API."""
    url = os.environ.get("BLOG_PAYMENT_URL", "https://payments.example.com/v1/charges")
    response = httpx.post(url, json={"amount": amount}, timeout=10)
    response.raise_for_status()
    return dict(response.json())

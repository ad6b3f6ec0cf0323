"""Calls to services outside the app (a payment provider, an LLM, e-mail)."""

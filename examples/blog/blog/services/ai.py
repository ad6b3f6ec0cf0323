"""Turn a question into SQL with an OpenAI-compatible chat completions API."""

from __future__ import annotations

import os

import httpx


async def ask_for_sql(question: str) -> str:
    base_url = os.environ.get("BLOG_LLM_URL", "https://api.openai.com/v1")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as llm:
        response = await llm.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"},
            json={
                "model": os.environ.get("BLOG_LLM_MODEL", "gpt-4o-mini"),
                "messages": [
                    {"role": "system", "content": "Answer with one SQL query."},
                    {"role": "user", "content": question},
                ],
            },
        )
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

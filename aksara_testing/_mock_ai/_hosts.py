"""Which hosts are AI services: the well-known APIs plus the ``ai_hosts`` setting."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_HOSTS", "HostSet", "split_host"]

DEFAULT_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    "localhost:11434",  # Ollama's default address
    "127.0.0.1:11434",
    "[::1]:11434",
)
_ANY_PORT = -1


def split_host(spec: str) -> tuple[str, int]:
    """``"host:port"`` -> ``("host", port)``; a bare host matches any port.

    >>> split_host("[::1]:11434"), split_host("llm.internal")
    (('::1', 11434), ('llm.internal', -1))
    """
    host, port = spec.lower(), _ANY_PORT
    if host.startswith("["):  # [IPv6]:port
        address, _, rest = host[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") else _ANY_PORT
    if host.count(":") == 1:
        host, _, digits = host.partition(":")
        port = int(digits)
    return host, port


class HostSet:
    """A set of hosts, each with a port or any port."""

    def __init__(self, specs: Iterable[str] = DEFAULT_HOSTS) -> None:
        self._ports: dict[str, set[int]] = {}
        for spec in specs:
            host, port = split_host(spec)
            self._ports.setdefault(host, set()).add(port)

    def __contains__(self, address: tuple[str, int]) -> bool:
        host, port = address
        ports = self._ports.get(host.lower().strip("[]"))
        return ports is not None and (_ANY_PORT in ports or port in ports)

    def with_extra(self, specs: Iterable[str]) -> HostSet:
        hosts = HostSet(())
        for host, ports in self._ports.items():
            hosts._ports[host] = set(ports)
        for spec in specs:
            host, port = split_host(spec)
            hosts._ports.setdefault(host, set()).add(port)
        return hosts

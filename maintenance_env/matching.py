"""Matching a request against the exemption lists at a cost that does not grow with them.

:class:`PathPatterns` is ``EXCEPT_URLS`` as one compiled alternation in RE2, a linear-time
engine: no pattern, from any source, can make matching one path cost more than a small
bound (``^/api/v1/(\\w+/?)+$`` backtracks catastrophically in Python's ``re``; in RE2 it
cannot), and 1,000 patterns cost one match. :class:`NetworkSet` is ``EXCEPT_IPS`` as sets
of integers, one per prefix length: a lookup per length in use, whatever the count.
Both keep ``re.match`` / ``address in network`` meaning; IPv4-mapped IPv6 addresses
(``::ffff:10.0.0.1``) and networks match their IPv4 form on both sides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = ["NetworkSet", "PathPatterns", "PatternRefused", "compile_linear"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class PatternRefused(ValueError):
    """A pattern the linear-time engine cannot compile (a backreference, a lookaround,
    ``\\Z``): the message says what RE2 reported."""


def _options() -> object:
    options = re2.Options()
    options.never_capture = True  # only "does it match": lets RE2 use its DFA
    options.log_errors = False
    return options


def compile_linear(pattern: str) -> Any:
    """``pattern`` compiled by RE2; raises :class:`PatternRefused` with RE2's reason."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternRefused(str(reason)) from None


class PathPatterns:
    """Patterns matched as ``re.match`` would (anchored at the start), all in one RE2
    alternation, so that the cost of a path is one linear-time match."""

    __slots__ = ("_compiled", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        compiled: list[Any] = []
        if self.patterns:
            try:
                compiled = [compile_linear("|".join(f"(?:{p})" for p in self.patterns))]
            except PatternRefused:
                # Two patterns naming one group, or a program over RE2's memory bound:
                # each on its own, still linear in the path.
                compiled = [compile_linear(p) for p in self.patterns]
        self._compiled = tuple(compiled)

    def match(self, path: str) -> bool:
        """Whether any pattern matches at the start of ``path``."""
        if not self._compiled:
            return False
        # Bytes skip the wrapper's offset bookkeeping: only "matched or not" is used.
        text = path.encode("utf-8", "surrogatepass")
        return any(regex.match(text) is not None for regex in self._compiled)


def _unmapped(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


class NetworkSet:
    """Networks grouped by IP version and prefix length into sets of network numbers:
    ``address in networks`` costs one set lookup per prefix length in use."""

    __slots__ = ("_groups",)

    def __init__(self, networks: Iterable[Network]) -> None:
        groups: dict[tuple[int, int], set[int]] = {}
        for network in networks:
            network = _unmapped(network)
            bits = network.max_prefixlen - network.prefixlen
            groups.setdefault((network.version, bits), set()).add(
                int(network.network_address) >> bits
            )
        #: (version, host bits, network numbers), fewest host bits first.
        self._groups = tuple(
            (version, bits, frozenset(numbers))
            for (version, bits), numbers in sorted(groups.items())
        )

    def __contains__(self, address: object) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return False
        version, number = address.version, int(address)
        for group_version, bits, numbers in self._groups:
            if group_version == version and number >> bits in numbers:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self._groups)

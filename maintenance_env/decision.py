"""The decision for one request while maintenance is active: pass, or answer it.

Cheap checks first, and what passes for every client before what passes for one client
only (health paths, the redirect target, ``EXCEPT_URLS``, the exempt view, login views,
then addresses and the bypass cookie); ``request.user`` is touched only when a user-based
exemption is on, and then by the middleware, which knows whether it runs sync or async.

In read-only mode (``MAINTENANCE_MODE_READ_ONLY``, or the first ``READ_ONLY_FIRST``
seconds of a window) a request with a safe method and no body passes right after the
bypass link is handled, and so do the login and logout views and ``set_language``; the
others go through the usual exemptions.

Checking an exemption never fails a request: an error while checking one (a database
that is down, a session that cannot be read, a URLconf that raises) means "not exempt",
logged once per kind and configuration at WARNING.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from enum import Enum
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from maintenance_env import bypass, paths, responses, user_rules
from maintenance_env.matching import NetworkSet
from maintenance_env.paths import check_failed
from maintenance_env.policy import SAFE_METHODS, Policy, Reach

__all__ = [
    "Verdict",
    "auser_passes",
    "client_ip",
    "decide",
    "is_safe",
    "request_user_passes",
]

logger = logging.getLogger("maintenance_env")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The methods read-only mode lets through: RFC 9110 section 9.2.1's safe methods.


class Verdict(Enum):
    """What :func:`decide` can conclude besides "this response"."""

    PASS = "pass"  # let the request through: the same for every client
    PASS_CLIENT = "pass client"  # through for this client's address only: mark private
    PASS_COOKIE = "pass cookie"  # through for a cookie's holder only: private, Vary: Cookie
    ASK_USER = "ask user"  # only a user-based exemption can still let it through


@functools.lru_cache(maxsize=1024)
def _parse_ip(text: str) -> IPAddress | None:
    """A client address as text, parsed (``ipaddress`` costs more than the lookup in
    10,000 networks): the last 1,024 seen are remembered, so a returning client costs a
    dictionary hit; a flood of new ones costs what parsing costs."""
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest, trusted_proxies: int) -> IPAddress | None:
    """The client's address: ``REMOTE_ADDR``, or with N trusted proxies the Nth entry from
    the right of ``X-Forwarded-For``. Anything a client could have forged is not used: with
    fewer entries than proxies, there is no trustworthy address.
    """
    if trusted_proxies <= 0:
        return _parse_ip(request.META.get("REMOTE_ADDR") or "")
    chain = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(chain) < trusted_proxies:
        return None
    return _parse_ip(chain[-trusted_proxies])


# --- users ------------------------------------------------------------------------------------


def user_passes(user: Any, state: Policy) -> bool:
    """Whether ``user`` matches an enabled user-based exemption (staff, superuser,
    authenticated). Evaluating a lazy user may raise: see :func:`request_user_passes`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    config = state.config
    return bool(
        config.except_authenticated
        or (config.except_staff and getattr(user, "is_staff", False))
        or (config.except_superuser and getattr(user, "is_superuser", False))
        or user_rules.matches(user, config.except_permissions, config.except_groups)
    )


def request_user_passes(request: HttpRequest, state: Policy) -> bool:
    """:func:`user_passes` for ``request.user`` (sync); a failure loading the user (the
    session store or the database down) means "not exempt", never an exception."""
    try:
        return user_passes(getattr(request, "user", None), state)
    except Exception as error:
        check_failed(state, "the user (session or database)", error)
        return False


async def auser_passes(request: HttpRequest, state: Policy) -> bool:
    """:func:`request_user_passes` under ASGI: the user comes from ``await request.auser()``."""
    try:
        auser = getattr(request, "auser", None)
        user = await auser() if auser is not None else None
        if state.config.except_permissions or state.config.except_groups:
            # Permissions and groups come from the database: not in the event loop.
            return await sync_to_async(user_passes)(user, state)
        return user_passes(user, state)
    except Exception as error:
        check_failed(state, "the user (session or database)", error)
        return False


# --- the decision -----------------------------------------------------------------------------


def is_safe(request: HttpRequest) -> bool:
    """A safe method (GET, HEAD, OPTIONS) that carries no body: a ``Content-Length`` of 0
    or none, and no ``Transfer-Encoding``. A body on a safe method is how a write slips
    past read-only mode into a view that only tests ``request.method != "GET"``."""
    if request.method not in SAFE_METHODS:
        return False
    meta = request.META
    if meta.get("HTTP_TRANSFER_ENCODING"):
        return False
    length = meta.get("CONTENT_LENGTH")
    return not length or length.strip() == "0"


def _exemption(request: HttpRequest, state: Policy) -> HttpResponse | Verdict | None:
    config = state.config
    if bypass.wants_bypass(request, state):
        return bypass.bypass_redirect(request, state)
    read_only = state.is_read_only()
    if read_only and is_safe(request):
        return Verdict.PASS  # for everyone alike: nothing to mark private
    path = request.path_info
    # First what passes for every client alike, then what passes for this client only.
    if paths.is_open_path(path, state):
        return Verdict.PASS
    reach = paths.path_reach(path, getattr(request, "urlconf", None), state)
    if reach is Reach.EXEMPT or reach is Reach.ADMIN_LOGIN:
        return Verdict.PASS
    users = config.user_exemptions
    # Signing in and out, and choosing a language, change only the visitor's session.
    if (users or read_only) and (reach is Reach.LOGIN or paths.is_login_url(request, state)):
        return Verdict.PASS
    if read_only and reach is Reach.SESSION:
        return Verdict.PASS
    if reach is Reach.NONE and paths.redirects_to_passing_path(request, path, state):
        return Verdict.PASS
    if config.except_ips:
        address = client_ip(request, config.trusted_proxies)
        networks = state.networks
        if networks is None:
            networks = state.networks = NetworkSet(config.except_ips)
        if address is not None and address in networks:
            return Verdict.PASS_CLIENT
    if bypass.has_bypass_cookie(request, state):
        return Verdict.PASS_COOKIE
    if users:
        return Verdict.ASK_USER
    return None


def decide(request: HttpRequest, state: Policy) -> HttpResponse | Verdict:
    """Everything but the user check, cheapest first: a response, or a :class:`Verdict`.

    Never raises because of an exemption: an error while checking one is logged (see
    :func:`check_failed`) and the request gets the maintenance response.
    """
    try:
        verdict = _exemption(request, state)
    except Exception as error:
        check_failed(state, "an exemption", error)
        verdict = None
    if verdict is None:
        return responses.maintenance_response(request, state)
    return verdict

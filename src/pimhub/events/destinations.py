"""Refuses webhook URLs that point into the hub's own network (SSRF), unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def blocked_address(url: str) -> str | None:
    """Why the URL's host must not be called (a loopback, private, link-local or otherwise
    internal address), or None when every address it resolves to is public. A name that does not
    resolve is let through: the delivery will fail and be retried, which is the right outcome
    for a receiver whose DNS is briefly down."""
    host = urlsplit(url).hostname
    if not host:
        return "the URL has no host"
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"'{host}' resolves to {address}, which is not a public address"
    return None

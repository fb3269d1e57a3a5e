"""Where a webhook may go. A webhook URL is chosen by the client but fetched by the server,
so it must never reach the server's own network: the host is resolved and every address it
resolves to must be a public one (no loopback, private, link-local such as the cloud metadata
service at 169.254.169.254, multicast, reserved or unspecified addresses). Checked when the job
is created and again at each delivery, which then connects to the address it checked (a
DNS-rebinding host cannot answer the check with a public address and the request with a
private one). ``ILLU_WEBHOOK_ALLOW_LOOPBACK`` lets loopback through, for tests and local
receivers."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HTTPS_ONLY = "Webhooks must use https (plain http only to loopback, where that is allowed)."


class WebhookTargetRefused(Exception):
    """The URL may not be a webhook target; the message says why, for the client."""


class WebhookHostUnresolved(WebhookTargetRefused):
    """The host did not resolve (perhaps for a moment: a delivery retries it)."""


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    hostname: str
    port: int
    address: IPAddress  # the checked address a delivery connects to


def _refusal(address: IPAddress) -> str | None:
    if address.is_loopback:
        return None if settings.ILLU_WEBHOOK_ALLOW_LOOPBACK else "a loopback address"
    for name in ("private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{name}"):
            return f"a {name.replace('_', '-')} address"
    if not address.is_global:
        return "a non-public address"
    return None


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def _address(raw: str) -> IPAddress:
    """The address a connection really reaches: IPv6 forms that carry an IPv4 address
    (::ffff:127.0.0.1, 6to4 2002:7f00:1::, NAT64 64:ff9b::7f00:1) are that IPv4 address."""
    address = ipaddress.ip_address(raw.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_PREFIX:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        return address.ipv4_mapped or address.sixtofour or address
    return address


def resolve_webhook_target(url: str) -> WebhookTarget:
    """The address to deliver ``url`` to, or WebhookTargetRefused saying why not."""
    parts = urlsplit(url)
    plain_http_allowed = parts.scheme == "http" and settings.ILLU_WEBHOOK_ALLOW_LOOPBACK
    if parts.scheme != "https" and not plain_http_allowed:
        raise WebhookTargetRefused(HTTPS_ONLY)
    hostname = (parts.hostname or "").rstrip(".")
    if not hostname:
        raise WebhookTargetRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        # They would be stored, shown in the admin and sent to whoever answers the host.
        raise WebhookTargetRefused(
            "The URL carries credentials (user:password@); webhooks are signed instead "
            "(X-Illu-Signature), so leave them out."
        )
    try:
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused("The URL's port is not a number from 1 to 65535.")
    if port == 0:
        raise WebhookTargetRefused("The URL's port is 0, which no server listens on.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookHostUnresolved(f"The host {hostname!r} does not resolve ({exc}).")
    addresses = list(dict.fromkeys(_address(info[4][0]) for info in infos))
    for address in addresses:
        refusal = _refusal(address)
        if refusal:
            # Every address must pass: a client picks none of them, the resolver does.
            raise WebhookTargetRefused(
                f"The host {hostname!r} resolves to {address}, {refusal}; webhooks go only "
                "to public addresses."
            )
    if parts.scheme == "http" and not all(address.is_loopback for address in addresses):
        raise WebhookTargetRefused(HTTPS_ONLY)
    return WebhookTarget(parts.scheme, hostname, port, addresses[0])

"""Every HTTP request Greenlight makes goes through here, under one egress policy.

Polling integrations, HTTP health checks, connection tests, the rollback webhook, chat webhooks:
each is a URL that a project member typed, so each could point Greenlight at the network it runs
in (a database admin page, a cloud metadata service). The policy:

- Only ``http`` and ``https``.
- No connection to an address that is not public: loopback, private (RFC 1918, unique local,
  the deprecated IPv6 site-local), shared (carrier-grade NAT), link-local (with the cloud
  metadata services), multicast, unspecified, reserved and documentation ranges, IPv4 and IPv6
  alike, IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) judged by that
  IPv4 address.
- The judgement is made on the address the socket connects to: the host name is resolved once
  per connection, each address is checked, and the connection is made to that very address (TLS
  still names the host). A name that resolves to a public address when a form checks it and to
  a private one when the request is sent is refused when it is sent.
- Redirects are followed here, hop by hop, at most ``MAX_REDIRECTS``; every hop connects through
  the same check. A hop to another origin drops the caller's headers (credentials) and body.
- ``OUTBOUND_ALLOWED_NETWORKS`` (a setting, from the environment) lists networks (CIDR) or host
  names that may be reached although they are not public: self-hosted CI in a private network.
  A cloud metadata address is reached only when an entry names that very address.
- Failures to connect read the same whether the port was closed, filtered or slow, so the error
  a member sees tells nothing about which ports are open behind an address.
- No proxy from the environment: a proxy would make the connected address the proxy's.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings

from lib.links import has_userinfo

logger = logging.getLogger(__name__)

# What callers use from the HTTP library, so that no other module needs to import it.
Response = httpx.Response
Headers = httpx.Headers
Timeout = httpx.Timeout
BaseTransport = httpx.BaseTransport

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Greenlight release coordination"
MAX_REDIRECTS = 5
# What is read of an answer, decompressed, and for how long: health and CI answers are small,
# and an address a member typed may answer without end.
MAX_ANSWER_BYTES = 10 * 2**20
MAX_ANSWER_SECONDS = 20.0
# Headers that describe the body as it came over the wire, not as it is kept once read.
_WIRE_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
SCHEMES = ("http", "https")
REDIRECT_CODES = (301, 302, 303, 307, 308)
CREDENTIALS_IN_URL = "Put credentials in the credential fields, not in the URL."
# Headers that say how the body is written, kept on a same-origin redirect that keeps the body.
_SAFE_HEADERS = {"accept", "user-agent"}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services: instance credentials one GET away. A broad allowlist entry (a whole
# private network) does not open them; only an entry naming the address itself does.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
# IPv6 prefix for NAT64: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# --- errors -------------------------------------------------------------------------------------


class OutboundError(Exception):
    """A request that did not get an answer. ``permanent``: trying again will not help."""

    permanent: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(OutboundError):
    """The destination is not allowed by the egress policy; nothing was sent."""

    permanent = True


class InvalidURL(OutboundError):
    permanent = True


class TooManyRedirects(OutboundError):
    permanent = True


class AnswerTooLarge(OutboundError):
    permanent = True


class Unreachable(OutboundError):
    """No answer: refused, filtered, reset or too slow, deliberately not told apart.

    ``connected`` is for the caller's retry rule only: False when no connection was made, so
    nothing reached the server and sending again cannot repeat a side effect.
    """

    def __init__(self, message: str, *, connected: bool = True) -> None:
        super().__init__(message)
        self.connected = connected


# --- the policy ---------------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address; the server half is public by definition
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """What kind of address ``ip`` is when it is not a public unicast one; None when it is."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        reason = why_not_public(embedded)
        if reason is not None:
            return reason
        if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip in _NAT64):
            return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        # Deprecated, and so not in the private ranges, but where it is still configured it
        # names an internal network.
        return "a private address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class Policy:
    """The allowlist: networks and host names that may be reached although not public."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Policy:
        networks: list[Network] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_settings(cls) -> Policy:
        return cls.from_entries(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, ip: IPAddress, *, host: str) -> str | None:
        """Why connecting to ``ip`` (resolved from ``host``) is refused; None when allowed."""
        reason = why_not_public(ip)
        if reason is None:
            return None
        if ip in METADATA_ADDRESSES:
            exact = any(net.num_addresses == 1 and ip in net for net in self.networks)
            return None if exact else reason
        if self.allows_host(host) or any(ip in net for net in self.networks):
            return None
        return reason


def _refused(host: str, reason: str) -> Refused:
    return Refused(
        f"{host} is {reason}; Greenlight does not connect there unless "
        "OUTBOUND_ALLOWED_NETWORKS allows it."
    )


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def check_url(url: str, *, policy: Policy | None = None) -> None:
    """Refuse at once what can be refused without a connection: a scheme other than http(s), no
    host, credentials in the URL, or a literal address outside the policy. For forms, to say it
    when the URL is typed; the connection is checked again when the request is sent."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise InvalidURL(f"{url!r} is not a valid URL.") from exc
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidURL("Only http:// and https:// URLs can be called.")
    host = parts.hostname or ""
    if not host:
        raise InvalidURL(f"{url!r} names no host.")
    if has_userinfo(url):
        raise InvalidURL(CREDENTIALS_IN_URL)
    policy = policy or Policy.from_settings()
    ip = _literal_ip(host)
    if ip is not None:
        reason = policy.refusal(ip, host=host)
        if reason is not None:
            raise _refused(host, reason)
    elif (host == "localhost" or host.endswith(".localhost")) and not policy.allows_host(host):
        raise _refused(host, "a loopback address")


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port), the port filled in from the scheme: what credentials are bound to."""
    try:
        parsed = httpx.URL(str(url))
    except httpx.InvalidURL as exc:
        raise InvalidURL(f"{url!r} is not a valid URL.") from exc
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme.lower(), (parsed.host or "").lower(), port


def same_origin(a: str | httpx.URL, b: str | httpx.URL) -> bool:
    try:
        return origin(a) == origin(b)
    except InvalidURL:
        return False


# --- the connection -----------------------------------------------------------------------------


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves once, checks each address, connects to the address it checked."""

    def __init__(self, policy: Policy | None) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = self._policy or Policy.from_settings()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Unreachable(f"{host} could not be found.", connected=False) from exc
        allowed: list[str] = []
        refusal = ""
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            ip = _literal_ip(address)
            if ip is None:
                continue
            reason = policy.refusal(ip, host=host)
            if reason is None:
                if address not in allowed:
                    allowed.append(address)
            else:
                refusal = refusal or reason
        if not allowed:
            raise _refused(host, refusal or "not a public address")
        last: Exception | None = None
        for address in allowed:
            try:
                return super().connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The certificate authorities, loaded once per process: loading them takes tens of
    milliseconds, and one context serves every client and thread."""
    return httpx.create_ssl_context(trust_env=True)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: Policy | None) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx builds its own pool; this one is the same but for where it connects.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=_GuardedBackend(policy),
            max_connections=httpx.Limits().max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )


class Client:
    """An HTTP client under the egress policy; make one per polling cycle, task or worker.

    ``transport`` replaces the network (tests answer with ``httpx.MockTransport``); the URL
    checks still apply. ``policy`` defaults to the settings, read at each connection.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._policy = policy
        self._client = httpx.Client(
            transport=transport or _GuardedTransport(policy),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        auth: tuple[str, str] | None = None,
        follow_redirects: bool = False,
        same_origin_redirects: bool = False,
    ) -> httpx.Response:
        """Send one request; follow redirects (each hop checked) when asked.

        With ``same_origin_redirects`` only hops within the first URL's origin are followed; a
        redirect elsewhere is returned as the answer. The answer's ``history`` holds the
        redirects followed; ``response.url`` is where the answer came from. Raises
        :class:`OutboundError` for everything but an HTTP answer.
        """
        history: list[httpx.Response] = []
        sent_headers = dict(headers or {})
        request = self._build(method, url, sent_headers, params, json, content)
        first = request.url
        while True:
            response = self._send(request, auth=auth if same_origin(request.url, first) else None)
            if not follow_redirects or response.status_code not in REDIRECT_CODES:
                response.history = history
                return response
            location = response.headers.get("location", "")
            if not location:
                response.history = history
                return response
            target = urljoin(str(request.url), location)
            if same_origin_redirects and not same_origin(target, first):
                response.history = history
                return response
            history.append(response)
            if len(history) > MAX_REDIRECTS:
                raise TooManyRedirects(
                    f"{_host(first)} redirected more than {MAX_REDIRECTS} times."
                )
            keep_body = response.status_code in (307, 308)
            method = request.method if keep_body else ("HEAD" if method == "HEAD" else "GET")
            if not same_origin(target, first):
                # Credentials and whatever else the caller added were meant for the first origin.
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() in _SAFE_HEADERS}
                json, content = None, None
            elif not keep_body:
                json, content = None, None
            request = self._build(method, target, sent_headers, None, json, content)

    def _build(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
    ) -> httpx.Request:
        check_url(url, policy=self._policy)
        try:
            return self._client.build_request(
                method,
                url,
                headers=dict(headers),
                params=dict(params) if params else None,
                json=json,
                content=content,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise InvalidURL(f"{_host(url) or url!r} is not a valid URL.") from exc

    def _send(self, request: httpx.Request, *, auth: tuple[str, str] | None) -> httpx.Response:
        host = _host(request.url)
        try:
            response = self._client.send(
                request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True
            )
            try:
                body = _read_capped(response, host)
            finally:
                response.close()
        except OutboundError:
            raise
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InvalidURL(f"{host or request.url!r} is not a valid URL.") from exc
        except httpx.TransportError as exc:
            # Refused, reset, filtered and slow read alike (see the module docstring); the log
            # keeps the difference for operators.
            logger.info("No answer from %s: %r", host, exc)
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise Unreachable(f"No answer from {host}.", connected=connected) from exc
        # The body as read (decompressed), with the headers that still describe it.
        return httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items() if k not in _WIRE_HEADERS],
            content=body,
            request=request,
            extensions=response.extensions,
        )


def _read_capped(response: httpx.Response, host: str) -> bytes:
    """The decompressed body, refused beyond ``MAX_ANSWER_BYTES`` or ``MAX_ANSWER_SECONDS``."""
    deadline = time.monotonic() + MAX_ANSWER_SECONDS
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(
                f"{host} answered with more than {MAX_ANSWER_BYTES // 2**20} MB; "
                "an answer larger than that is not read."
            )
        if time.monotonic() > deadline:
            raise Unreachable(f"No answer from {host}.")
        chunks.append(chunk)
    return b"".join(chunks)


def _host(url: str | httpx.URL) -> str:
    try:
        return httpx.URL(str(url)).host
    except httpx.InvalidURL:
        return ""

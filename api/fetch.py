"""A job's file fetched from a URL (a signed URL): only hosts of ``INGEST_URL_ALLOW``, never a
private, loopback or link-local address unless the host is listed by name.

``ftp://`` URLs pass the same host checks and are read from the checked address
(``api.remote_fetch``, through ``libs.sources``). ``s3://BUCKET/KEY`` URLs need their bucket
listed as ``s3://BUCKET`` (``s3://*``: any bucket; ``*`` alone does not allow S3); the store
is AWS, or the endpoint of botocore's ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, with
the API's AWS credentials.

Allow-list entries: ``host`` or an IP (exact: any address it resolves to is allowed),
``*.example.com`` (its subdomains) and ``*`` (any host): those two only for hosts whose every
address is global. The checked address is the one connected to (the URL's host pinned to it;
TLS still checks the certificate against the host name), so a second DNS answer cannot point
elsewhere. Redirects are not followed. The body is streamed into a Spool, bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from api.problems import Problem
from api.remote_fetch import copy_source
from api.storage import Spool, TooLarge
from libs.errors import UserError
from libs.sources import Source, SourceOptions, open_source
from libs.sources.base import redacted

SCHEMES: Final = ("http", "https", "ftp")  # checked by host; s3:// by bucket
PORTS: Final = {"http": 80, "https": 443, "ftp": 21}
SOURCE_OPTIONS: Final = SourceOptions(retry_budget=30.0)
TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def safe_url(url: str) -> str:
    """The URL as it may be logged or answered: no user, password, query or fragment (a
    signed URL's signature is in its query)."""
    return redacted(url, bare=True)


def _refused(detail: str) -> Problem:
    return Problem(422, detail, "url-refused")


def listing(host: str, allow: Sequence[str]) -> str | None:
    """How ``host`` is allowed: ``"exact"`` (listed), ``"pattern"`` (by ``*`` or
    ``*.domain``: global addresses only), or None (not allowed)."""
    host = host.lower().rstrip(".")
    if host in allow:
        return "exact"
    for entry in allow:
        if entry == "*" or (entry.startswith("*.") and host.endswith(entry[1:])):
            return "pattern"
    return None


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it where a
# translator runs: NAT64 (RFC 6052, RFC 8215) and the deprecated IPv4-compatible ::a.b.c.d.
_EMBEDDING: Final = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48",
                                                              "::/96"))


def _embedded(address: ipaddress.IPv6Address) -> list[IpAddress]:
    """The IPv4 addresses an IPv6 address carries (6to4, Teredo, NAT64, IPv4-compatible)."""
    found: list[IpAddress] = [address.sixtofour] if address.sixtofour else []
    if address.teredo is not None:
        found += address.teredo
    if any(address in net for net in _EMBEDDING):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _is_public(address.ipv4_mapped)
        if not all(_is_public(inner) for inner in _embedded(address)):
            return False  # 64:ff9b::7f00:1 reaches 127.0.0.1 through a NAT64
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to (422 problem if none)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _refused(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    except UnicodeError as exc:  # the IDNA codec: an empty label, one over 63 characters
        raise _refused(f"cannot resolve {host}: not a valid host name ({exc})") from exc
    found = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    if not found:
        raise _refused(f"{host} has no address")
    return sorted(found, key=lambda a: (a.version, int(a)))


async def checked_address(url: str, allow: Sequence[str]) -> tuple[str, int, IpAddress]:
    """(host, port, the address to connect to) for ``url``; 422 problem if refused."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _refused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in SCHEMES or not host:
        raise _refused(f"only http://, https://, ftp:// and s3:// URLs are fetched, got "
                       f"{safe_url(url)}")
    port = port or PORTS[parts.scheme]
    how = listing(host, allow)
    if how is None:
        raise _refused(f"host {host} is not in INGEST_URL_ALLOW")
    addresses = await resolve(host, port)
    if how == "pattern" and not all(_is_public(a) for a in addresses):
        private = next(a for a in addresses if not _is_public(a))
        raise _refused(f"host {host} resolves to {private}, a private, loopback or link-local "
                       "address: list the host itself in INGEST_URL_ALLOW to allow it")
    return host, port, addresses[0]


def _pinned(url: str, address: IpAddress, port: int) -> str:
    parts = urlsplit(url)
    where = f"[{address}]" if address.version == 6 else str(address)
    return urlunsplit(parts._replace(netloc=f"{where}:{port}"))


def name_of(url: str) -> str:
    """The URL's last path segment (unquoted): the job's source name by default."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def check_bucket(url: str, allow: Sequence[str]) -> None:
    """422 problem unless ``url``'s bucket is listed (``s3://BUCKET`` or ``s3://*``)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise _refused("an s3:// URL takes no user or password (the API's AWS credentials "
                       "are used)")
    bucket = parts.netloc.lower()
    if f"s3://{bucket}" not in allow and "s3://*" not in allow:
        raise _refused(f"bucket {bucket} is not in INGEST_URL_ALLOW (list it as "
                       f"s3://{bucket})")


def _with_address(url: str, address: IpAddress, port: int) -> str:
    """``url`` naming ``address`` instead of its host, its user and password kept (FTP)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    where = f"[{address}]" if address.version == 6 else str(address)
    return urlunsplit(parts._replace(netloc=(userinfo + "@" if userinfo else "")
                                     + f"{where}:{port}"))


async def fetch(url: str, allow: Sequence[str], spool: Spool) -> None:
    """Stream ``url``'s body into ``spool``. 422 problem: refused, not 200, redirected,
    unreachable, not found; 413 (TooLarge) past the spool's limit."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise _refused(f"not a valid URL: {exc}") from exc
    if scheme == "s3":
        check_bucket(url, allow)
        await copy_source(_source(url), spool, safe_url(url))
        return
    host, port, address = await checked_address(url, allow)
    if scheme == "ftp":
        await copy_source(_source(_with_address(url, address, port)), spool, safe_url(url))
        return
    host_header = host if port in (80, 443) else f"{host}:{port}"
    async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False,
                                 follow_redirects=False) as client:
        try:
            async with client.stream("GET", _pinned(url, address, port),
                                     headers={"Host": host_header},
                                     extensions={"sni_hostname": host}) as answer:
                _check_answer(answer, url, spool.limit)
                async for chunk in answer.aiter_bytes():
                    await spool.write(chunk)
        except httpx.HTTPError as exc:
            raise _refused(f"fetching {safe_url(url)} failed: {type(exc).__name__}") from exc


def _source(url: str) -> Source:
    try:
        return open_source(url, SOURCE_OPTIONS)
    except UserError as exc:
        raise _refused(str(exc)) from None


def _check_answer(answer: httpx.Response, url: str, limit: int) -> None:
    if answer.status_code != 200:
        raise _refused(f"{safe_url(url)} answered {answer.status_code}"
                       + (" (redirects are not followed)" if answer.is_redirect else ""))
    length = answer.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(limit)

"""HTTP/1.1 on the wire, for webhooks: a request's bytes, an answer's head, its body's framing.

Pure functions, no I/O: `webhook_client.py` does the sockets. Only what one POST and its
answer need (RFC 9112): no redirects (a 3xx is an answer like any other), no compression
(we ask for `identity`), no `Expect: 100-continue` (interim 1xx answers are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024
"""The longest answer head (status line and headers) read: an outlet's headers are short."""


class ProtocolError(Exception):
    """The outlet's answer is not HTTP/1.x as RFC 9112 frames it."""


@dataclass(frozen=True)
class Origin:
    scheme: Literal["http", "https"]
    host: str  # as connected to (no brackets)
    port: int
    target: str  # path and query, as sent in the request line
    authority: str  # the Host header


def origin(url: str) -> Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == default else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(scheme, host, port, target, authority)


def request_bytes(method: str, where: Origin, headers: dict[str, str], body: bytes) -> bytes:
    """The request's head and body as sent; header values with CR or LF are refused (smuggling)."""
    lines = [f"{method} {where.target} HTTP/1.1", f"host: {where.authority}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} cannot be sent")
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Head:
    status: int
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: dict[str, str]  # lower-case names; a repeated header keeps its first value

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_interim(self) -> bool:
        return 100 <= self.status < 200 and self.status != 101

    def framing(self) -> Framing:
        """How the body after this head ends (RFC 9112 §6.3), for the answer to a POST."""
        if self.status in (204, 304) or self.is_interim:
            return Framing("none")
        coding = self.headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower().replace(" ", "").split(",")[-1] != "chunked":
                return Framing("close")  # read until the outlet closes
            return Framing("chunked")
        length = self.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ProtocolError(f"unreadable content-length {length[:40]!r}")
            return Framing("length", int(length.strip()))
        return Framing("close")

    def keeps_alive(self) -> bool:
        """The connection may carry another request once this answer is read to its end."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


@dataclass(frozen=True)
class Framing:
    kind: Literal["none", "length", "chunked", "close"]
    length: int = 0


def parse_head(raw: bytes) -> Head:
    """A status line and header lines, up to the blank line that ends them."""
    lines = raw.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0]
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        headers.setdefault(name.lower(), value.strip())
    return Head(int(code), version, headers)


def chunk_size(line: bytes) -> int:
    """The size on a chunk's header line (extensions after `;` ignored)."""
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in digits):
        raise ProtocolError(f"unreadable chunk size {line[:40]!r}")
    return int(digits, 16)

"""The webhook client's wire format (RFC 9112): what is sent, how answers are read."""

from __future__ import annotations

import pytest

from services.publish.http1 import ProtocolError, chunk_size, origin, parse_head, request_bytes


def test_the_request_line_host_and_length_come_from_the_url_and_body() -> None:
    where = origin("https://outlet.example:8443/hooks/in?team=a")
    sent = request_bytes("POST", where, {"webhook-id": "msg_1"}, b"{}")
    assert sent == (
        b"POST /hooks/in?team=a HTTP/1.1\r\nhost: outlet.example:8443\r\nwebhook-id: msg_1\r\n"
        b"content-length: 2\r\n\r\n{}"
    )
    assert (where.scheme, where.host, where.port) == ("https", "outlet.example", 8443)
    assert origin("http://[::1]/").authority == "[::1]"
    assert origin("http://h").target == "/"
    assert origin("http://h:80/x").authority == "h"


@pytest.mark.parametrize("url", ["ftp://h/x", "http:///x", "hook"])
def test_only_http_urls_with_a_host_are_sent_to(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        origin(url)


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb"])
def test_a_header_value_with_a_line_break_is_never_sent(value: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        request_bytes("POST", origin("http://h/"), {"webhook-id": value}, b"")


def test_an_answer_head_is_read_with_lower_case_names_and_its_framing() -> None:
    head = parse_head(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 7\r\n\r\n")
    assert (head.status, head.headers["retry-after"], head.is_success) == (503, "30", False)
    assert (head.framing().kind, head.framing().length) == ("length", 7)
    assert head.keeps_alive()
    chunked = parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 9\r\n\r\n")
    assert chunked.framing().kind == "chunked"  # transfer-encoding wins over a length (RFC 9112 6.3)
    assert parse_head(b"HTTP/1.1 200 OK\r\n\r\n").framing().kind == "close"
    assert parse_head(b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n").framing().kind == "none"
    assert parse_head(b"HTTP/1.1 100 Continue\r\n\r\n").is_interim
    assert not parse_head(b"HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n").keeps_alive()
    assert not parse_head(b"HTTP/1.0 200 OK\r\n\r\n").keeps_alive()
    assert parse_head(b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n\r\n").keeps_alive()


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nname : x\r\n\r\n",
    ],
)
def test_an_answer_head_that_is_not_http_1_is_refused(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_head(raw)


def test_an_unreadable_length_is_refused() -> None:
    with pytest.raises(ProtocolError):
        parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").framing()


def test_chunk_sizes_are_hexadecimal_with_extensions_ignored() -> None:
    assert chunk_size(b"1a;name=value\r\n") == 26
    assert chunk_size(b"0\r\n") == 0
    for line in (b"\r\n", b"-1\r\n", b"0x10\r\n", b"f" * 17 + b"\r\n"):
        with pytest.raises(ProtocolError):
            chunk_size(line)

"""The pieces of config/gunicorn_worker.py and config/wsgi.py that need no server: the request pre-scan, the chunked body."""

from __future__ import annotations

import io
import json

import pytest
from django.test import override_settings

from config.gunicorn_worker import MAX_HEAD_BYTES, RequestScan, json_error
from config.wsgi import ChunkedBody

HEAD = b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET / HTTP/1.1\r\nHost: x", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (HEAD + b"Content-Length: 5\r\n\r\nabcd", False),
        (HEAD + b"Content-Length: 5\r\n\r\nabcde", True),
        (HEAD + b"content-length:  5 \r\n\r\nabcde", True),
        (HEAD + b"Content-Length: nope\r\n\r\n", True),  # gunicorn's parser refuses it, not this scan
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nabcde\r\n0\r\nX-Trailer: 1\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nabcde\r\n0\r\nX-Trailer: 1\r\n\r\n", True),
        # chunk data that looks like the last chunk does not end the body early
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n7\r\n0\r\n\r\n\r\n\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", True),
        (b"GET /" + b"a" * MAX_HEAD_BYTES, True),  # an endless head goes to the parser for its 414/431
    ],
)
def test_request_scan_knows_when_a_request_has_arrived(data, complete):
    assert RequestScan(data, max_body=1000).complete is complete


def test_request_scan_stops_buffering_a_body_at_the_limit():
    assert RequestScan(HEAD + b"Content-Length: 5000\r\n\r\n" + b"x" * 999, max_body=1000).complete is False
    assert RequestScan(HEAD + b"Content-Length: 5000\r\n\r\n" + b"x" * 1000, max_body=1000).complete is True


def test_request_scan_invites_a_body_only_when_one_is_awaited():
    expect = HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    assert RequestScan(expect, max_body=1000).expects_continue is True
    assert RequestScan(expect + b"{}", max_body=1000).expects_continue is False
    http10 = expect.replace(b"HTTP/1.1", b"HTTP/1.0")
    assert RequestScan(http10, max_body=1000).expects_continue is False  # RFC 9110 10.1.1


def test_json_error_is_a_complete_closing_answer():
    answer = json_error(414, "URI Too Long", "too long")
    head, body = answer.split(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 414 URI Too Long"
    assert b"Connection: close" in head and f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"detail": "too long", "code": "request_line_too_long", "extra": {}}


def run_wsgi(body: bytes, environ: dict) -> tuple[str, dict, bytes]:
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [])
        return [b"ok"]

    answer = {}

    def start_response(status, headers):
        answer["status"] = status

    chunks = ChunkedBody(app)({"wsgi.input": io.BytesIO(body), **environ}, start_response)
    return answer["status"], seen, b"".join(chunks)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100_000)
def test_a_chunked_body_reaches_django_with_its_length():
    body = b"x" * 100_000  # exactly the limit, in more than one read
    status, seen, _ = run_wsgi(body, {"HTTP_TRANSFER_ENCODING": "chunked"})
    assert status == "200 OK" and seen == {"length": "100000", "body": body}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_chunked_body_over_the_limit_is_refused_before_django():
    status, seen, answer = run_wsgi(b"x" * 101, {"HTTP_TRANSFER_ENCODING": "chunked"})
    assert status.startswith("413") and seen == {}
    assert json.loads(answer)["extra"] == {"max_bytes": 100}


def test_a_body_with_a_length_is_left_alone():
    status, seen, _ = run_wsgi(b"abc", {"CONTENT_LENGTH": "3"})
    assert status == "200 OK"
    assert seen == {"length": "3", "body": b"abc"}


@pytest.mark.parametrize("size", [b"-6", b"+6", b" ", b"", b"0x6", b"6 6"])
def test_a_malformed_chunk_size_counts_as_complete_so_gunicorn_refuses_it(size):
    data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabcdef\r\n"
    assert RequestScan(data, max_body=1000).complete is True


def test_fed_piece_by_piece_the_scan_agrees_with_one_scan_of_the_whole():
    body = b"".join(b"1\r\n%c\r\n" % (65 + n % 26) for n in range(3000)) + b"0\r\n\r\n"
    data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body
    scan = RequestScan(max_body=10**6)
    early = [end for end in range(0, len(data), 7) if scan.feed(data[:end])]
    assert early == []  # not complete before the last byte came
    assert scan.feed(data) is True and RequestScan(data, max_body=10**6).complete is True
    # The walk resumed where it stopped: it never starts again from the first chunk.
    assert scan._chunk_pos > len(HEAD)


def test_a_chunked_body_is_incomplete_until_its_last_chunk():
    start = HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    scan = RequestScan(start, max_body=1000)
    assert scan.complete is False
    assert scan.feed(start + b"0\r\n") is False
    assert scan.feed(start + b"0\r\n\r\n") is True

"""The HTTP front: one threaded HTTP/1.1 server for the REST API, git smart HTTP and the control API.

Per request, in order: injected faults, then routing by path: ``/_emulator/...`` (control, no auth),
``<owner>/<repo>[.wiki].git/...`` (git, through ``git http-backend``), the Git LFS batch API and its
transfers (``lfs``), release downloads, and otherwise
the REST API at ``/`` or ``/api/v3``. REST answers always carry Content-Length (keep-alive works),
rate-limit headers, and an ETag on GETs; a matching ``If-None-Match`` gets a 304 that costs nothing.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import struct
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import api, control, git_http, graphql_api, lfs
from .auth import AuthError, Principal
from .emulator import Emulator
from .http import Request, Response
from .shapes import Urls, etag

API_PREFIX = "/api/v3"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {rid}."
)
SECONDARY_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
PRIMARY_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-primary-rate-limits"
GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?P<wiki>\.wiki)?(?:\.git)?"
    r"(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+))$"
)
DOWNLOAD_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/download/(?P<tag>[^/]+)/(?P<name>[^/]+)$")
# GitHub.com serves GraphQL at /graphql, GitHub Enterprise Server at /api/graphql.
GRAPHQL_PATHS = ("/graphql", "/api/graphql")
ASSET_BLOB_PATH = re.compile(r"^/_downloads/release-assets/(?P<id>\d+)$")


class Reset(Exception):
    """Raised to cut the connection with a TCP reset (the ``reset`` fault)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    emulator: Emulator  # set on the subclass made by make_server

    def setup(self) -> None:
        super().setup()
        try:  # headers and body leave in one write; without this, Nagle + delayed ACK cost ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self) -> str:
        return "GitHub.com"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.emulator.log:
            sys.stderr.write(f"emulator: {self.address_string()} - {format % args}\n")

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except Reset:
            self._reset()
        except (ConnectionError, ssl.SSLError, TimeoutError):
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # ---- the pipeline ------------------------------------------------------------------------------
    def dispatch(self) -> None:
        em = self.emulator
        split = urlsplit(self.path)
        path = unquote(split.path) if "%" in split.path else split.path
        if not path.startswith("/_emulator/"):
            fault = em.faults.pick()
            if fault is not None and self.inject(fault):
                return
        host = self.headers.get("Host") or f"{em.address[0]}:{em.address[1]}"
        web = f"{em.scheme}://{host}"
        if path.startswith("/_emulator/"):
            req = self.read_request(path, split.query, Urls(web, web))
            self.send(control.handle(em, req))
            return
        match = lfs.BATCH_PATH.match(path) or lfs.OBJECT_PATH.match(path)
        if match:
            self._body_read = True
            body = self.read_body()
            em.counts.add("lfs", *(["lfs_batch"] if "oid" not in match.groupdict() else []))
            if "oid" in match.groupdict():
                self.send(lfs.transfer(em, match, self.command, self.headers, body))
            else:
                self.send(lfs.batch(em, match, self.command, self.headers, body, web))
            return
        match = GIT_PATH.match(split.path)
        if match:
            em.counts.add("git")
            git_http.serve(self, em, match, split.query, web)
            return
        match = DOWNLOAD_PATH.match(path) or ASSET_BLOB_PATH.match(path)
        if match:
            self.drain_body()
            em.counts.add("download")
            self.send(api.download(em, match))
            return
        if path in GRAPHQL_PATHS:
            req = self.read_request(path, split.query, Urls(web, web))
            self.send(self.graphql_response(req))
            return
        prefix = ""
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            prefix, path = API_PREFIX, path[len(API_PREFIX) :] or "/"
        req = self.read_request(path, split.query, Urls(web + prefix, web))
        self.send(self.api_response(req))

    def api_response(self, req: Request) -> Response:
        em = self.emulator
        try:
            req.principal = em.authority.identify(req.headers.get("Authorization"), em.installations())
        except AuthError as exc:
            em.counts.add("rest", "rest_rate_limited")
            bucket = em.limiter.consume("anonymous")
            resp = Response.error(401, exc.message)
            resp.headers += bucket.headers()
            return resp
        key = req.principal.bucket
        free = req.path == "/rate_limit"
        searching = req.path.startswith("/search/")
        limiter, resource = (em.search_limiter, "search") if searching else (em.limiter, "core")
        before = limiter.peek(key)
        if before.remaining <= 0 and not free:
            em.counts.add("rest")
            resp = Response.error(403, self.primary_message(req.principal, resource), PRIMARY_DOCS)
            resp.headers += before.headers(resource)
            return resp
        try:
            resp = api.route(em, req)
        except json.JSONDecodeError:
            resp = Response.error(400, "Problems parsing JSON")
        if req.method == "GET" and resp.status == 200:
            tag = etag(resp.body)
            resp.headers.append(("ETag", tag))
            wanted = req.headers.get("If-None-Match")
            if wanted and (wanted.strip() == "*" or tag in [t.strip() for t in wanted.split(",")]):
                # Free only when authorized: GitHub's REST docs ("Use conditional requests if
                # appropriate") exempt a 304 from the primary limit for a request "made with a
                # correctly authorized Authorization header"; an anonymous 304 still counts.
                resp = Response(304, b"", [("ETag", tag)], counts=req.principal.kind == "anonymous")
        not_modified = ["rest_not_modified"] if resp.status == 304 else []
        if free or not resp.counts:
            em.counts.add("rest", *not_modified)
            bucket = limiter.peek(key)
        else:
            em.counts.add("rest", "rest_rate_limited", *not_modified)
            bucket = limiter.consume(key)
        resp.headers += bucket.headers(resource)
        return resp

    def graphql_response(self, req: Request) -> Response:
        em = self.emulator
        try:
            req.principal = em.authority.identify(req.headers.get("Authorization"), em.installations())
        except AuthError as exc:
            em.counts.add("graphql")
            return Response.error(401, exc.message)
        return graphql_api.handle(em, req)

    @staticmethod
    def primary_message(principal: Principal, resource: str = "core") -> str:
        if resource == "search":
            return "API rate limit exceeded for search: at most 30 search requests a minute."
        if principal.kind == "installation":
            return f"API rate limit exceeded for installation ID {principal.installation_id}."
        if principal.kind == "app":
            return "API rate limit exceeded for app."
        return (
            "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a "
            "higher rate limit. Check out the documentation for more details.)"
        )

    def inject(self, fault: str) -> bool:
        """Apply one fault. Returns True when the request has been answered (or cut) by it."""
        em = self.emulator
        if fault == "slow":
            time.sleep(em.slow_seconds)
            return False
        self.drain_body()
        if fault == "reset":
            raise Reset()
        if fault == "502":
            body = b"<html><body><h1>502 Server Error</h1></body></html>\n"
            self.send(Response(502, body, [("Content-Type", "text/html")]))
        elif fault == "503":
            self.send(Response.error(503, "Service Unavailable"))
        else:
            rid = self.request_id()
            resp = Response.error(
                429 if fault == "secondary_429" else 403, SECONDARY_MESSAGE.format(rid=rid), SECONDARY_DOCS
            )
            resp.headers.append(("retry-after", str(em.secondary_retry_after)))
            self.send(resp)
        return True

    # ---- request and response plumbing -------------------------------------------------------------
    def request_id(self) -> str:
        return uuid.uuid4().hex[:8].upper() + ":" + uuid.uuid4().hex[:6].upper()

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def drain_body(self) -> None:
        if not getattr(self, "_body_read", False):
            self._body_read = True
            self.read_body()

    def read_request(self, path: str, query: str, urls: Urls) -> Request:
        self._body_read = True
        body = self.read_body()
        return Request(
            method=self.command,
            path=path.rstrip("/") or "/",
            query=parse_qsl(query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            urls=urls,
            request_id=self.request_id(),
        )

    def send(self, resp: Response) -> None:
        self.send_response(resp.status)
        names = {name.lower() for name, _ in resp.headers}
        for name, value in resp.headers:
            self.send_header(name, value)
        if "content-type" not in names and resp.body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-GitHub-Request-Id", self.request_id())
        self.send_header("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        self.send_header("Cache-Control", "private, max-age=60, s-maxage=60")
        if self.close_connection:
            self.send_header("Connection", "close")
        if self.command != "HEAD" and resp.body:
            self._headers_buffer.append(b"\r\n" + resp.body)  # one write for head and body
            self.flush_headers()
        else:
            self.end_headers()


def make_server(emulator: Emulator, host: str, port: int, tls: ssl.SSLContext | None) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"emulator": emulator})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

        def handle_error(self, request: Any, client_address: Any) -> None:
            exc = sys.exc_info()[1]
            if isinstance(exc, ConnectionError | ssl.SSLError | TimeoutError | Reset | OSError):
                return
            super().handle_error(request, client_address)

    server = Server((host, port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    emulator.address = server.server_address[:2]
    return server

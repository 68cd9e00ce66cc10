"""Git smart HTTP, served by git's own ``git http-backend`` (CGI) so the wire protocol is git's, not ours.

Authentication is GitHub's for Apps: HTTP Basic with any user name (``x-access-token`` by convention)
and an installation token as the password; without one the answer is 401 with
``WWW-Authenticate: Basic realm="GitHub"``. Request and response bodies are streamed in both
directions (chunked request bodies are decoded on the fly; responses go out chunked), so a large push
or clone never sits whole in memory. ``Git-Protocol`` is passed on as ``GIT_PROTOCOL`` (protocol v2).
Wikis live at ``<repo>.wiki.git``: a disabled or never-created wiki is "not found", as on GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote

from .auth import AuthError
from .emulator import Emulator
from .http import Response
from .state import iso

CHUNK = 64 * 1024


class Handler(Protocol):
    """What git needs of the server's request handler: the raw request and the response plumbing.

    Named here as a protocol, so this module does not import the server that calls it."""

    command: str
    headers: Any
    client_address: Any
    rfile: BinaryIO
    wfile: BinaryIO
    close_connection: bool
    _body_read: bool

    def drain_body(self) -> None: ...

    def send(self, resp: Response) -> None: ...

    def send_response(self, code: int, message: str | None = None) -> None: ...

    def send_header(self, keyword: str, value: str) -> None: ...

    def end_headers(self) -> None: ...


def _http_backend() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(exec_path, "git-http-backend")


_BACKEND: list[str] = []


def _plain(handler: Handler, status: int, text: str, headers: list[tuple[str, str]] | None = None) -> None:
    handler.drain_body()
    handler.send(Response(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])]))


def serve(handler: Handler, em: Emulator, match: re.Match[str], query: str, web: str) -> None:
    owner, name = unquote(match["owner"]), unquote(match["repo"])
    wiki, rest = bool(match["wiki"]), match["rest"]
    service = "git-receive-pack" if rest.endswith("git-receive-pack") or "service=git-receive-pack" in query else "git-upload-pack"
    try:
        principal = em.authority.identify(handler.headers.get("Authorization"), em.installations())
    except AuthError:
        principal = None
    if principal is None or principal.kind != "installation":
        _plain(handler, 401, "Invalid username or token. Password authentication is not supported for Git operations.\n",
               [("WWW-Authenticate", 'Basic realm="GitHub"')])
        return
    with em.store.lock:
        repo = em.store.repo_by_name(owner, name) or em.store.renamed_to(owner, name)
        visible = repo is not None and repo["owner"].lower() == (principal.account or "").lower() and (
            principal.repository_ids is None or repo["id"] in principal.repository_ids
        )
        if not visible or repo is None:
            _plain(handler, 404, "Repository not found.\n")
            return
        git_dir = em.store.wiki_dir(repo) if wiki else em.store.git_dir(repo)
        if wiki and not repo.get("has_wiki"):
            git_dir = None
        archived = repo.get("archived", False)
    if git_dir is None or not git_dir.is_dir():
        _plain(handler, 404, "Repository not found.\n")
        return
    if service == "git-receive-pack":
        if not principal.can("contents", "write"):
            _plain(handler, 403, f"Permission to {owner}/{name}.git denied to {em.store.db['app']['bot']}.\n")
            return
        if archived:
            _plain(handler, 403, "This repository was archived so it is read-only.\n")
            return
    run_backend(handler, em, git_dir, rest, query)
    if service == "git-receive-pack" and handler.command == "POST":
        with em.store.lock:
            if em.store.repo_by_id(repo["id"]) is repo:
                repo["pushed_at"] = iso(em.store.now())
                repo["updated_at"] = repo["pushed_at"]
                em.store.save()


def run_backend(handler: Handler, em: Emulator, git_dir: Any, rest: str, query: str) -> None:
    if not _BACKEND:
        _BACKEND.append(_http_backend())
    headers = handler.headers
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(git_dir.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{git_dir.name}{rest}",
        "REQUEST_METHOD": handler.command,
        "QUERY_STRING": query,
        "REMOTE_USER": "x-access-token",
        "REMOTE_ADDR": handler.client_address[0],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(em.store.dir),
    }
    if headers.get("Content-Type"):
        env["CONTENT_TYPE"] = headers["Content-Type"]
    if headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = headers["Content-Encoding"]
    if headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = headers["Git-Protocol"]
    chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
    length = int(headers.get("Content-Length") or 0)
    if length and not chunked:
        env["CONTENT_LENGTH"] = str(length)
    handler._body_read = True
    proc = subprocess.Popen(
        [_BACKEND[0]],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None if em.log else subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    feeder = threading.Thread(target=_feed, args=(handler.rfile, proc.stdin, chunked, length), daemon=True)
    feeder.start()
    try:
        _relay(handler, proc.stdout)
    finally:
        feeder.join(timeout=60)
        proc.stdout.close()
        if proc.wait(timeout=60) != 0:
            handler.close_connection = True


def _feed(source: BinaryIO, sink: BinaryIO, chunked: bool, length: int) -> None:
    """Copy the request body into the CGI's stdin, decoding HTTP chunking as it goes."""
    try:
        if chunked:
            while True:
                size = int(source.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while source.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                while size:
                    data = source.read(min(size, CHUNK))
                    if not data:
                        return
                    sink.write(data)
                    size -= len(data)
                source.readline()
        else:
            while length:
                data = source.read(min(length, CHUNK))
                if not data:
                    break
                sink.write(data)
                length -= len(data)
    except (BrokenPipeError, ConnectionError, OSError):
        pass
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _relay(handler: Handler, out: BinaryIO) -> None:
    """Turn the CGI's answer into an HTTP/1.1 response with a chunked body."""
    status, head = 200, []
    while True:
        line = out.readline()
        if not line or line in (b"\r\n", b"\n"):
            break
        key, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if key.lower() == "status":
            status = int(value.split()[0])
        else:
            head.append((key, value))
    handler.send_response(status)
    for key, value in head:
        handler.send_header(key, value)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    write = handler.wfile.write
    while True:
        data = out.read1(CHUNK) if hasattr(out, "read1") else out.read(CHUNK)
        if not data:
            break
        write(b"%x\r\n" % len(data) + data + b"\r\n")
    write(b"0\r\n\r\n")
    handler.wfile.flush()


def have_backend() -> bool:
    return shutil.which("git") is not None

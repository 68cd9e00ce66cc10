"""GitHub: the App resource, the App client, and a per-installation REST client.

    GitHubAppResource  Dagster configuration: API URL, App id, private key path, CA bundle, limits
      └── GitHubApp            authenticates as the App (RS256 JWT) and lists its installations
            └── InstallationClient   one installation: read-only token, REST reads, git credentials

REST goes through PyGithub: ``github.Auth.AppAuth`` signs the App's JWTs and PyGithub's
``Requester`` carries every request (raw ``requestJson`` calls, because the backup wants GitHub's JSON
exactly as served, paging we control, and conditional requests). Waiting and retrying is
``resources.github_pacing.Pacer``; PyGithub's own retries and request spacing are switched off so every HTTP
request is ours to count. Installation tokens are minted by us (``POST /app/installations/{id}/
access_tokens``) rather than by ``Auth.AppInstallationAuth`` so that they are down-scoped to read
permissions, refreshed five minutes before expiry, counted, and paced like every other request.

Tokens live in memory only: never in a URL, argv, a file, a log line, an exception or a repr.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import dagster as dg
import requests
from github import Auth
from github.Requester import Requester
from pydantic import PrivateAttr

from resources import names
from resources.errors import ConfigurationError, DownloadTooLargeError, GitHubError, RemoteNotFoundError
from resources.github_pacing import Pacer, Reply, RetryPolicy, TransientError, server_time

USER_AGENT = "backhub-pipeline"
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
API_VERSION = "2022-11-28"
# What the backup reads. Asked for as "read" whatever the installation was granted, so a token can
# never write. Optional ones are asked for only when the installation has them (asking for a
# permission an installation lacks makes GitHub refuse the token).
REQUIRED_READ_PERMISSIONS = ("contents", "metadata", "issues", "pull_requests")
# administration: branch protection and autolinks; actions: environments (GitHub's permission reference).
OPTIONAL_READ_PERMISSIONS = ("repository_hooks", "administration", "actions", "discussions")
# What a restore to GitHub writes: a new repository, its git data, labels, milestones, issues, comments.
# Only a client built with ``write=RESTORE_WRITE_PERMISSIONS`` asks for them; backups never do.
RESTORE_WRITE_PERMISSIONS = ("administration", "contents", "issues")
# Asked for as "write" by such a client only when the installation was granted it: without it, pull
# requests are restored as issues.
RESTORE_OPTIONAL_WRITE_PERMISSIONS = ("pull_requests",)
TOKEN_REFRESH_MARGIN_SECONDS = 300
# The one-item reads of ``InstallationClient.latest_updates``: newest update first.
_CHANGE_PROBES = {
    "issues": ("issues", {"state": "all", "sort": "updated", "direction": "desc"}),
    "comments": ("issues/comments", {"sort": "updated", "direction": "desc"}),
    "review_comments": ("pulls/comments", {"sort": "updated", "direction": "desc"}),
}
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
# "the GitHub REST API provides up to 1,000 results for each search" (docs.github.com/rest/search/search).
SEARCH_RESULT_CAP = 1000
# "The REST API will find up to 4,000 repositories that match your filters" (same page, search scope).
SEARCH_REPOSITORY_SCOPE = 4000


@dataclass(frozen=True)
class Installation:
    """One installation of the App. ``account`` is the login as GitHub spells it."""

    id: int
    account: str
    account_type: str


class GitHubAppResource(dg.ConfigurableResource):
    """GitHub App credentials; api_url: https://api.github.com, https://HOST/api/v3, or the emulator.

    ``git_url`` is where git smart HTTP is served (``https://github.com`` for github.com,
    ``https://HOST`` for GitHub Enterprise); derived from ``api_url`` when not set. ``ca_bundle`` is a
    PEM file trusted for both REST and git (GitHub Enterprise or the emulator with a private CA).
    """

    api_url: str = "https://api.github.com"
    app_id: str
    private_key_path: str
    ca_bundle: str | None = None
    git_url: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_base_seconds: float = 1.0
    secondary_limit_wait_seconds: float = 60.0

    _installation_clients: dict[str, InstallationClient] = PrivateAttr(default_factory=dict)

    def installation_client(self, account: str) -> InstallationClient:
        """The installation client for ``account``, one per resource instance: the assets of one
        snapshot share its token (minted once) instead of each listing installations and minting."""
        key = account.lower()
        client = self._installation_clients.get(key)
        if client is None:
            client = self._installation_clients[key] = self.get_client().installation_for(account)
        return client

    def get_client(self) -> GitHubApp:
        try:
            private_key = Path(self.private_key_path).read_text()
        except OSError as exc:
            raise ConfigurationError(
                f"read GitHub App private key {self.private_key_path}: {exc.strerror}"
            ) from exc
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ConfigurationError(f"CA bundle {self.ca_bundle} does not exist")
        return GitHubApp(
            api_url=self.api_url,
            app_id=self.app_id,
            private_key=private_key,
            ca_bundle=self.ca_bundle,
            git_url=self.git_url,
            timeout_seconds=self.timeout_seconds,
            policy=RetryPolicy(
                max_retries=self.max_retries,
                base_delay=self.backoff_base_seconds,
                secondary_delay=self.secondary_limit_wait_seconds,
            ),
        )


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int = 1) -> None:
        with self._lock:
            self.value += amount


class _InstallationTokenAuth(Auth.Auth):
    """PyGithub auth reading the installation client's current token (masked in PyGithub's logs)."""

    def __init__(self, client: InstallationClient) -> None:
        self._client = client

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._client._current_token()

    @property
    def _masked_token(self) -> str:
        return "token (removed)"


def _counting_connection(base: type, counter: _Counter) -> type:
    """PyGithub's connection class, counting every request it sends.

    It also repairs one PyGithub behaviour: on a 301 (a renamed repository) the Requester follows
    ``Location`` by path only, dropping its query (``state=all``, ``since``, ``page``); GitHub's
    Location carries them, so the follow-up request is sent with the query GitHub gave.
    """

    pending = threading.local()  # the Requester shares one connection object between threads

    class CountingConnection(base):  # type: ignore[misc,valid-type]
        def request(self, verb: str, url: str, *args: Any, **kwargs: Any) -> None:
            redirect, pending.location = getattr(pending, "location", None), None
            if redirect is not None and "?" not in url and url == urllib.parse.urlsplit(redirect).path:
                url = redirect
            super().request(verb, url, *args, **kwargs)

        def getresponse(self) -> Any:
            counter.add()
            response = super().getresponse()
            location = response.headers.get("location")
            if response.status == 301 and location:
                parts = urllib.parse.urlsplit(location)
                pending.location = parts.path + (f"?{parts.query}" if parts.query else "")
            return response

    return CountingConnection


# Transport failures of a request that may pass: the Pacer retries them.
_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def _lowered(headers: Any) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in headers.items()}


class _Api:
    """One PyGithub Requester with its own auth: sends one HTTP request per call, counted.

    Not for sharing between threads: PyGithub's connection object keeps the request being built in
    its own attributes (``request()`` stores verb, URL and headers; ``getresponse()`` sends them), so
    two threads on one Requester can send each other's requests. ``_PerThread`` gives each thread
    its own.
    """

    def __init__(self, app: GitHubApp, auth: Auth.Auth, counter: _Counter) -> None:
        self._app = app
        self._requester = Requester(
            auth=auth,
            base_url=app.api_url,
            timeout=app.timeout_seconds,  # type: ignore[arg-type]  # requests takes floats
            user_agent=USER_AGENT,
            per_page=100,
            verify=app.ca_bundle or True,
            retry=None,  # requests' default: no retries of its own; the Pacer retries
            pool_size=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            api_version=API_VERSION,
        )
        # Private in PyGithub 2.10 (pinned): the class the Requester builds its connection from.
        attribute = "_Requester__connectionClass"
        if not hasattr(self._requester, attribute):
            raise RuntimeError("PyGithub's Requester changed: cannot count requests")
        setattr(
            self._requester, attribute, _counting_connection(getattr(self._requester, attribute), counter)
        )

    @property
    def graphql_url(self) -> str:
        """PyGithub's GraphQL URL for the API URL: /graphql, or /api/graphql beside GHES's /api/v3."""
        return self._requester.graphql_url

    def call(
        self, verb: str, url: str, params: dict[str, Any] | None, headers: dict[str, str], body: Any
    ) -> Reply:
        try:
            status, response_headers, text = self._requester.requestJson(
                verb, url, parameters=params, headers=dict(headers), input=body
            )
        except requests.exceptions.SSLError as exc:
            raise GitHubError(
                f"TLS to {self._app.api_url} failed (is ca_bundle set to the server's CA?): "
                f"{type(exc).__name__}"
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            raise TransientError(_describe(exc)) from exc
        except RuntimeError as exc:  # PyGithub refusing a redirect to another host or scheme
            raise GitHubError(str(exc)) from exc
        return Reply(status=status, headers=_lowered(response_headers), body=text)

    def download(self, url: str, sink: BinaryIO, limit: int) -> Reply:
        """Stream a binary answer (``Accept: application/octet-stream``, following GitHub's 302) into
        ``sink``, rewound first so a retry starts over; more than ``limit`` bytes is refused."""
        try:
            status, response_headers, chunks = self._requester.getStream(url, chunk_size=1 << 20)
            sink.seek(0)
            sink.truncate()
            total = 0
            for chunk in chunks:
                total += len(chunk)
                if total > limit:
                    raise DownloadTooLargeError(f"GET {_path_of(url)}: more than {limit} bytes")
                sink.write(chunk)
        except requests.exceptions.HTTPError as exc:  # getStream's raise_for_status
            response = exc.response
            return Reply(status=response.status_code, headers=_lowered(response.headers), body=response.text[:2000])
        except _TRANSPORT_ERRORS as exc:
            raise TransientError(_describe(exc)) from exc
        return Reply(status=status, headers=_lowered(response_headers), body="")


class _PerThread:
    """One ``_Api`` per thread, built on first use: each thread its own Requester, connection and
    ``requests`` session, all sending through the owner's one ``Pacer``, counter and token."""

    def __init__(self, build: Callable[[], _Api]) -> None:
        self._build = build
        self._local = threading.local()

    def get(self) -> _Api:
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self._build()
        return api


def _describe(exc: BaseException) -> str:
    """A short reason for a connection failure, without URLs or headers."""
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 4:
        chain.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    for arg in exc.args:
        text = str(arg)
        for reason in (
            "Connection reset",
            "Connection refused",
            "Connection aborted",
            "timed out",
            "Remote end closed",
        ):
            if reason in text:
                return f"{chain[0]} ({reason})"
    return chain[0]


def _message(reply: Reply) -> str:
    try:
        data = json.loads(reply.body)
    except ValueError:
        return reply.body[:200]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return reply.body[:200]


def _path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path or url


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _RestSession:
    """Requests, status handling and paging shared by the App and installation clients."""

    _app: GitHubApp
    _pacer: Pacer
    _counter: _Counter

    @property
    def requests_made(self) -> int:
        """Every HTTP request this client sent, including token minting, retries and redirects."""
        return self._counter.value

    def _send(
        self,
        api: _Api,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        what = f"{verb} {_path_of(url)}"
        all_headers = {"Accept": "application/vnd.github+json", **(headers or {})}
        return self._pacer.send(what, lambda: api.call(verb, url, params, all_headers, body))

    def _get_reply(self, url: str, params: dict[str, Any] | None) -> Reply:
        raise NotImplementedError

    def _check(self, verb: str, url: str, reply: Reply, allow: frozenset[int] = frozenset()) -> Reply:
        if reply.status < 300 or reply.status == 304 or reply.status in allow:
            return reply
        raise GitHubError(
            f"{verb} {_path_of(url)}: GitHub answered {reply.status}: {_message(reply)}", status=reply.status
        )

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET one resource; GitHubError(status=...) when GitHub refuses it."""
        reply = self._check("GET", path, self._get_reply(path, params))
        return json.loads(reply.body) if reply.body else None

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Iterator[dict]:
        """Every item of a list endpoint, 100 per page, following ``Link: rel="next"``.

        ``key`` names the list inside an object answer (``repositories`` for
        ``/installation/repositories``); found automatically when the object has one list.
        """
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url is not None:
            reply = self._check("GET", url, self._get_reply(url, query))
            data = json.loads(reply.body) if reply.body else []
            yield from _items(data, key, url)
            url = self._next_link(reply)
            query = None  # the next link carries the query

    def _next_link(self, reply: Reply) -> str | None:
        match = _NEXT_LINK.search(reply.headers.get("link", ""))
        if match is None:
            return None
        url = match.group(1)
        ours, theirs = urllib.parse.urlsplit(self._app.api_url), urllib.parse.urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise GitHubError(f"GitHub's next page {_path_of(url)} is on another host; not following it")
        return url


def _items(data: Any, key: str | None, url: str) -> list[dict]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if key is not None and isinstance(data.get(key), list):
            return data[key]
        lists = [value for value in data.values() if isinstance(value, list)]
        if key is None and len(lists) == 1:
            return lists[0]
    raise GitHubError(f"GET {_path_of(url)}: expected a list from GitHub")


class GitHubApp(_RestSession):
    """The App itself: JWT-authenticated calls, installations, installation clients."""

    def __init__(
        self,
        *,
        api_url: str,
        app_id: str,
        private_key: str,
        ca_bundle: str | None = None,
        git_url: str | None = None,
        timeout_seconds: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"GitHub API URL {api_url!r} is not an http(s) URL")
        self.api_url = api_url.rstrip("/")
        self.app_id = str(app_id)
        self.ca_bundle = ca_bundle
        self.timeout_seconds = timeout_seconds
        self.git_base_url = (git_url or _derive_git_url(self.api_url)).rstrip("/")
        self.policy = policy or RetryPolicy()
        self._app = self
        self._pacer = Pacer(self.policy)
        self._counter = _Counter()
        try:
            self._app_auth = Auth.AppAuth(self.app_id, private_key)
            self._app_auth.create_jwt()
        except Exception as exc:  # PyJWT / cryptography: a key that cannot sign RS256
            raise ConfigurationError(f"GitHub App {self.app_id}: the private key cannot sign a JWT") from exc
        self._apis = _PerThread(lambda: _Api(self, self._app_auth, self._counter))
        self._permissions: dict[int, dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"GitHubApp(app_id={self.app_id!r}, api_url={self.api_url!r})"

    def _get_reply(self, url: str, params: dict[str, Any] | None) -> Reply:
        return self._send(self._apis.get(), "GET", url, params=params)

    def installations(self) -> list[Installation]:
        """Every installation of the App (``GET /app/installations``)."""
        return [self._remember(item) for item in self.paginate("/app/installations")]

    def installation(self, installation_id: int) -> InstallationClient:
        data = self.get_json(f"/app/installations/{int(installation_id)}")
        return InstallationClient(self, self._remember(data))

    def installation_for(self, account: str, *, write: tuple[str, ...] = ()) -> InstallationClient:
        """The installation on ``account`` (a login, matched case-insensitively).

        ``write`` names permissions its tokens ask for as "write" (a restore to GitHub); every
        other permission stays read-only.
        """
        for installation in self.installations():
            if installation.account.lower() == account.lower():
                return InstallationClient(self, installation, write=write)
        raise GitHubError(f"GitHub App {self.app_id} is not installed on {account!r}", status=404)

    def _remember(self, data: dict) -> Installation:
        account = data.get("account") or {}
        installation = Installation(
            id=int(data["id"]),
            account=str(account.get("login", "")),
            account_type=str(account.get("type", data.get("target_type", ""))),
        )
        self._permissions[installation.id] = dict(data.get("permissions") or {})
        return installation


def _derive_git_url(api_url: str) -> str:
    parts = urllib.parse.urlsplit(api_url)
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path.rstrip("/")
    if path.endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class InstallationClient(_RestSession):
    """REST calls and git credentials for one installation, with a token minted on demand.

    Tokens are read-only unless the client was built with ``write`` permissions (restore only).
    One client may be used from several threads at once (the assets read repositories in parallel):
    each thread sends through its own Requester, while the token, the ``Pacer`` (so a rate-limit
    wait holds every thread), the request counters and the ETag cache are shared.
    """

    def __init__(
        self,
        app: GitHubApp,
        installation: Installation,
        *,
        etag_cache: MutableMapping[str, Sequence[str]] | None = None,
        write: tuple[str, ...] = (),
    ) -> None:
        self.installation = installation
        self.write_permissions = tuple(write)
        self._app = app
        self._pacer = Pacer(app.policy)
        self._counter = _Counter()
        self._jwt_apis = _PerThread(lambda: _Api(app, app._app_auth, self._counter))
        self._token_apis = _PerThread(lambda: _Api(app, _InstallationTokenAuth(self), self._counter))
        self._token_value: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.etag_cache = etag_cache
        self._not_modified = _Counter()
        self._graphql_points = _Counter()  # GraphQL points spent, as each answer's rateLimit.cost reports them
        self._thread_points = threading.local()  # the same, by the calling thread (one repository's work)

    def __repr__(self) -> str:
        return f"InstallationClient(installation={self.installation!r})"

    @property
    def graphql_points(self) -> int:
        """GraphQL points spent, as each answer's ``rateLimit { cost }`` reported them."""
        return self._graphql_points.value

    @property
    def graphql_points_this_thread(self) -> int:
        """Those spent by the calling thread: exact for one repository while others run beside it."""
        return getattr(self._thread_points, "value", 0)

    @property
    def not_modified(self) -> int:
        """Conditional GETs GitHub answered 304: no rate limit spent."""
        return self._not_modified.value

    # -- tokens ------------------------------------------------------------------------------------

    def token(self) -> str:
        """The installation token, minted on first use and again when less than 5 minutes remain."""
        with self._token_lock:
            if self._token_value is None or self._token_expires - time.time() < TOKEN_REFRESH_MARGIN_SECONDS:
                self._mint()
            assert self._token_value is not None
            return self._token_value

    def _current_token(self) -> str:
        value = self._token_value
        if value is None:
            raise GitHubError("no installation token minted yet")
        return value

    def _requested_permissions(self) -> dict[str, str]:
        granted = self._app._permissions.get(self.installation.id)
        wanted = list(REQUIRED_READ_PERMISSIONS)
        wanted += [name for name in OPTIONAL_READ_PERMISSIONS if granted and name in granted]
        if granted:
            wanted = [name for name in wanted if name in granted]
        requested = {name: "read" for name in wanted}
        requested.update({name: "write" for name in self.write_permissions})
        if self.write_permissions and granted:
            requested.update({name: "write" for name in RESTORE_OPTIONAL_WRITE_PERMISSIONS
                              if granted.get(name) == "write"})
        return requested

    def may_write(self, permission: str) -> bool:
        """Whether this client's tokens carry ``permission`` as "write"."""
        return self._requested_permissions().get(permission) == "write"

    def _mint(self) -> None:
        url = f"/app/installations/{self.installation.id}/access_tokens"
        reply = self._send(self._jwt_apis.get(), "POST", url, body={"permissions": self._requested_permissions()})
        if reply.status != 201:
            raise GitHubError(
                f"mint a token for installation {self.installation.id} ({self.installation.account}): "
                f"GitHub answered {reply.status}: {_message(reply)}",
                status=reply.status,
            )
        data = json.loads(reply.body)
        self._token_value = data["token"]
        try:
            expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            expires = time.time() + 3600
        # Measure the lifetime on our clock: the server's (or the emulator's simulated) clock may differ.
        lifetime = expires - (server_time(reply) or time.time())
        self._token_expires = time.time() + lifetime

    def _expire_token(self, rejected: str) -> None:
        with self._token_lock:
            if self._token_value == rejected:
                self._token_value = None

    # -- requests ----------------------------------------------------------------------------------

    def _get_reply(self, url: str, params: dict[str, Any] | None, if_none_match: str | None = None) -> Reply:
        headers: dict[str, str] = {"If-None-Match": if_none_match} if if_none_match else {}
        cache_key = None
        if self.etag_cache is not None and not if_none_match:
            cache_key = Requester.add_parameters_to_url(url, params or {})
            cached = self.etag_cache.get(cache_key)
            if cached is not None:
                headers["If-None-Match"] = cached[0]
        for attempt in (1, 2):
            token = self.token()
            reply = self._send(self._token_apis.get(), "GET", url, params=params, headers=headers)
            if reply.status == 401 and attempt == 1:
                self._expire_token(token)  # expired or revoked mid-run: mint once more
                continue
            break
        if cache_key is not None and self.etag_cache is not None:
            if reply.status == 304 and cache_key in self.etag_cache:
                # A 304 need not repeat the Link header: the cached one keeps a paged list whole.
                self._not_modified.add()
                _etag, body, *link = self.etag_cache[cache_key]
                headers = {**reply.headers, **({"link": link[0]} if link and link[0] else {})}
                return Reply(status=200, headers=headers, body=body)
            if reply.status == 200 and reply.headers.get("etag"):
                self.etag_cache[cache_key] = (reply.headers["etag"], reply.body, reply.headers.get("link", ""))
        return reply

    def send_json(self, verb: str, path: str, body: Any = None) -> Any:
        """POST, PATCH or PUT ``body`` as JSON; GitHub's decoded answer. Needs a ``write`` client.

        Paced and retried like reads (``Pacer``: 5xx, rate limits); a token rejected mid-run is
        minted once more; a refusal is a ``GitHubError`` carrying GitHub's status and message.
        """
        if verb not in ("POST", "PATCH", "PUT"):
            raise ValueError(f"send_json: unsupported method {verb!r}")
        for attempt in (1, 2):
            token = self.token()
            reply = self._send(self._token_apis.get(), verb, path, body=body)
            if reply.status == 401 and attempt == 1:
                self._expire_token(token)
                continue
            break
        reply = self._check(verb, path, reply)
        return json.loads(reply.body) if reply.body else None

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL query (``POST /graphql``, ``/api/graphql`` on GHES): its ``data``.

        Paced and retried like REST calls; a token rejected mid-run is minted once more. GitHub
        answers most GraphQL failures with 200 and an ``errors`` array: any error there is a
        ``GitHubError`` (status 404 for ``NOT_FOUND``, 403 for ``FORBIDDEN``, else None), since a
        partial answer would be stored as if whole. A ``rateLimit { cost }`` in the answer is added
        to ``graphql_points``.
        """
        api = self._token_apis.get()
        url = api.graphql_url
        body = {"query": query, "variables": dict(variables or {})}
        for attempt in (1, 2):
            token = self.token()
            reply = self._send(api, "POST", url, body=body)
            if reply.status == 401 and attempt == 1:
                self._expire_token(token)
                continue
            break
        reply = self._check("POST", url, reply)
        answer = json.loads(reply.body)
        errors = answer.get("errors") or []
        if errors:
            kinds = {str(error.get("type")) for error in errors}
            status = 404 if "NOT_FOUND" in kinds else 403 if "FORBIDDEN" in kinds else None
            first = errors[0]
            raise GitHubError(f"POST {_path_of(url)}: GraphQL error {first.get('type') or ''} "
                              f"{first.get('message', '')}".replace("  ", " ") + (f" (and {len(errors) - 1} more)"
                                                                                   if len(errors) > 1 else ""),
                              status=status)
        data = answer.get("data") or {}
        cost = (data.get("rateLimit") or {}).get("cost")
        if isinstance(cost, int):
            self._graphql_points.add(cost)
            self._thread_points.value = self.graphql_points_this_thread + cost
        return data

    def _repo_path(self, full_name: str) -> str:
        owner, repo = names.full_name(full_name)
        return f"/repos/{owner}/{repo}"

    def repositories(self) -> list[dict]:
        """Every repository the installation can read, as GitHub served them."""
        return list(self.paginate("/installation/repositories", key="repositories"))

    def repository(self, full_name: str) -> dict | None:
        """The repository (following a rename), or None when it is gone (404/410)."""
        url = self._repo_path(full_name)
        reply = self._check("GET", url, self._get_reply(url, None), allow=frozenset({404, 410}))
        if reply.status in (404, 410):
            return None
        return json.loads(reply.body)

    def issues(self, full_name: str, since: datetime | None = None) -> Iterator[dict]:
        """Issues and pull requests, every state, oldest update first; only updated since ``since``."""
        params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "asc"}
        if since is not None:
            params["since"] = _iso(since)
        return self.paginate(f"{self._repo_path(full_name)}/issues", params)

    def issue_comments(self, full_name: str, since: datetime | None = None) -> Iterator[dict]:
        """Every issue and pull-request conversation comment of the repository."""
        params: dict[str, Any] = {"sort": "updated", "direction": "asc"}
        if since is not None:
            params["since"] = _iso(since)
        return self.paginate(f"{self._repo_path(full_name)}/issues/comments", params)

    def latest_updates(self, full_name: str, earlier: Mapping[str, Any] | None = None,
                       kinds: Sequence[str] = tuple(_CHANGE_PROBES)) -> dict[str, dict[str, Any]]:
        """Per kind (``issues``, ``comments``, ``review_comments``), the most recently updated item of
        the repository as ``{"top": [id, updated_at] or None, "etag": ...}``: three one-item reads
        whose answer changes whenever an item of that kind is created or updated.

        GitHub documents ``sort=updated``, ``direction=desc`` and ``per_page`` for "List repository
        issues", "List issue comments for a repository" and "List review comments in a repository"
        (docs.github.com/en/rest/issues/issues, /issues/comments, /pulls/comments; the pinned OpenAPI
        description agrees), and pull requests are issues in the first list. Editing a comment is
        not documented to touch its issue's ``updated_at``, hence the comment lists of their own.
        With ``earlier`` (an earlier answer of this method) each read is conditional: GitHub
        answers 304, which "does not count against your primary rate limit" (docs.github.com/en/rest/
        using-the-rest-api/best-practices-for-using-the-rest-api, conditional requests), and the
        earlier ``top`` stands. ``kinds`` narrows the reads (``changed_repositories`` answers for issues).
        """
        latest: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            suffix, params = _CHANGE_PROBES[kind]
            url = f"{self._repo_path(full_name)}/{suffix}"
            before = dict((earlier or {}).get(kind) or {})
            reply = self._check("GET", url, self._get_reply(url, {**params, "per_page": 1}, before.get("etag")))
            if reply.status == 304 and "top" in before:
                self._not_modified.add()
                latest[kind] = before
                continue
            items = json.loads(reply.body) if reply.body and reply.status != 304 else []
            top = [items[0]["id"], items[0]["updated_at"]] if items else None
            latest[kind] = {"top": top, "etag": reply.headers.get("etag")}
        return latest

    def changed_repositories(self, since: datetime, *, repository_count: int) -> set[str] | None:
        """Full names (lower case) of the installation's repositories in which an issue or pull request
        was updated at or after ``since``, from one search (``GET /search/issues``) for the whole
        installation; None when search cannot answer for sure, and the caller asks each repository.

        What this relies on, from GitHub's documentation:
        - ``updated:>=YYYY-MM-DDTHH:MM:SSZ`` "filter[s] issues based on ... when they were last
          updated", to the second with the optional time; ``user:``/``org:`` scope the search to the
          repositories that account owns; issues and pull requests both match without ``is:``
          (docs.github.com/search-github/searching-on-github/searching-issues-and-pull-requests; only
          a *user* access token must pick one, an installation token may not: the OpenAPI description
          of "Search issues and pull requests"). ``updated`` is the issue's ``updated_at``, the
          field the per-repository reads' ``since`` filters on: what this finds is exactly what the
          previous probe (the newest ``updated_at`` of the repository's issues) found.
        - at most 1,000 results per search; ``incomplete_results`` is true when the query timed out,
          and then results may be missing; at most 4,000 repositories are searched
          (docs.github.com/rest/search/search, "About search"): each of these answers None.
        - search has its own rate limit, 30 requests a minute (same page); ``x-ratelimit-*`` on the
          answer name the ``search`` resource and the Pacer waits for its reset like any other.
        Not documented, so not relied on: that a new or edited comment, or a new review, moves the
        issue's ``updated_at``. Comment and review-comment edits have their own probes
        (``latest_updates``); a new review is found through its pull request's ``updated_at``, as
        the per-repository probe did before (GitHub moves it in practice; the docs are silent).
        """
        if repository_count > SEARCH_REPOSITORY_SCOPE:
            return None
        qualifier = "org" if self.installation.account_type == "Organization" else "user"
        query: dict[str, Any] | None = {
            "q": f"{qualifier}:{self.installation.account} updated:>={_iso(since)}",
            "sort": "updated", "order": "desc", "per_page": 100,
        }
        names: set[str] = set()
        seen = 0
        url: str | None = "/search/issues"
        while url is not None:
            try:
                reply = self._check("GET", url, self._get_reply(url, query))
            except GitHubError as exc:
                if exc.status in (403, 404, 422, 503):  # refused or unavailable: ask per repository
                    return None
                raise
            data = json.loads(reply.body) if reply.body else {}
            total = int(data.get("total_count", 0))
            if data.get("incomplete_results") or total > SEARCH_RESULT_CAP:
                return None
            for item in data.get("items", []):
                seen += 1
                owner, name = urllib.parse.urlsplit(item["repository_url"]).path.rstrip("/").split("/")[-2:]
                names.add(f"{owner}/{name}".lower())
            url, query = self._next_link(reply), None
        return names if seen >= total else None

    def pulls(self, full_name: str) -> Iterator[dict]:
        return self.paginate(f"{self._repo_path(full_name)}/pulls", {"state": "all"})

    def reviews(self, full_name: str, number: int) -> list[dict]:
        return list(self.paginate(f"{self._repo_path(full_name)}/pulls/{int(number)}/reviews"))

    def pull(self, full_name: str, number: int) -> dict:
        """One pull request in full: what the list lacks (``commits``, ``additions``, ``deletions``,
        ``changed_files``, ``merged_by``, ``mergeable``...)."""
        return self.get_json(f"{self._repo_path(full_name)}/pulls/{int(number)}")

    def pull_commits(self, full_name: str, number: int) -> list[dict]:
        """A pull request's commits, oldest first; GitHub lists at most 250."""
        return list(self.paginate(f"{self._repo_path(full_name)}/pulls/{int(number)}/commits"))

    def issue_events(self, full_name: str) -> Iterator[dict]:
        """The repository's issue events, newest first, as GitHub serves them (the list takes no
        ``since``: a caller stops reading where it has been before)."""
        return self.paginate(f"{self._repo_path(full_name)}/issues/events")

    def review_comments(self, full_name: str, since: datetime | None = None) -> Iterator[dict]:
        """Every review (diff) comment of the repository."""
        params: dict[str, Any] = {"sort": "updated", "direction": "asc"}
        if since is not None:
            params["since"] = _iso(since)
        return self.paginate(f"{self._repo_path(full_name)}/pulls/comments", params)

    def labels(self, full_name: str) -> list[dict]:
        return list(self.paginate(f"{self._repo_path(full_name)}/labels"))

    def milestones(self, full_name: str) -> list[dict]:
        return list(self.paginate(f"{self._repo_path(full_name)}/milestones", {"state": "all"}))

    def releases(self, full_name: str) -> list[dict]:
        return list(self.paginate(f"{self._repo_path(full_name)}/releases"))

    def topics(self, full_name: str) -> list[str]:
        data = self.get_json(f"{self._repo_path(full_name)}/topics")
        return list(data.get("names", [])) if isinstance(data, dict) else []

    def collaborators(self, full_name: str) -> list[dict] | None:
        """Collaborators, or None when the App may not read them (403)."""
        return self._optional_list(f"{self._repo_path(full_name)}/collaborators")

    def hooks(self, full_name: str) -> list[dict] | None:
        """Webhooks, or None when the App may not read them (403)."""
        return self._optional_list(f"{self._repo_path(full_name)}/hooks")

    # -- protections and settings: ``None`` when the App may not read them (403) ------------------------

    def branch_protections(self, full_name: str) -> dict[str, dict] | None:
        """Each protected branch's protection, by branch name."""
        base = self._repo_path(full_name)
        branches = self._optional_list(f"{base}/branches", {"protected": "true"})
        if branches is None:
            return None
        found: dict[str, dict] = {}
        for branch in branches:
            name = str(branch["name"])
            names.ref(f"refs/heads/{name}")
            try:  # the branch may hold "/": GitHub routes the rest of the path as the branch name
                found[name] = self.get_json(f"{base}/branches/{urllib.parse.quote(name, safe='/')}/protection")
            except GitHubError as exc:
                if exc.status == 403:
                    return None
                if exc.status != 404:  # unprotected or deleted since the listing
                    raise
        return found

    def rulesets(self, full_name: str) -> list[dict] | None:
        """The repository's own rulesets, each with its conditions and rules (the list leaves them out)."""
        base = self._repo_path(full_name)
        listed = self._optional_list(f"{base}/rulesets", {"includes_parents": "false"})
        if listed is None:
            return None
        return [self.get_json(f"{base}/rulesets/{int(ruleset['id'])}") for ruleset in listed]

    def environments(self, full_name: str) -> list[dict] | None:
        """Deployment environments and their protection rules (GitHub serves no secret values here)."""
        return self._optional_list(f"{self._repo_path(full_name)}/environments", key="environments")

    def autolinks(self, full_name: str) -> list[dict] | None:
        return self._optional_list(f"{self._repo_path(full_name)}/autolinks")

    def download_release_asset(self, full_name: str, asset_id: int, sink: BinaryIO, limit: int) -> int:
        """A release asset's bytes into ``sink``; how many. Paced and retried like every request;
        ``DownloadTooLargeError`` past ``limit`` bytes."""
        path = f"{self._repo_path(full_name)}/releases/assets/{int(asset_id)}"
        self.token()  # minted before the Pacer's first attempt, like the JSON calls
        reply = self._pacer.send(f"GET {path}", lambda: self._token_apis.get().download(path, sink, limit))
        self._check("GET", path, reply)
        return sink.tell()

    # -- Git LFS (git-lfs docs/api/batch.md and basic-transfers.md) -------------------------------

    def lfs_batch(self, full_name: str, operation: str, objects: Sequence[tuple[str, int]]) -> list[dict]:
        """The LFS batch API's answer for ``objects`` (oid, size): one dict per object, with
        ``actions`` or a per-object ``error``. Authenticated like git (Basic, the installation token as
        the password), paced and retried like every request; a refused batch is a ``GitHubError``."""
        owner, repo = names.full_name(full_name)
        url = f"{self._app.git_base_url}/{owner}/{repo}.git/info/lfs/objects/batch"
        body = json.dumps({"operation": operation, "transfers": ["basic"], "hash_algo": "sha256",
                           "objects": [{"oid": oid, "size": size} for oid, size in objects]})
        headers = {"Accept": LFS_MEDIA_TYPE, "Content-Type": LFS_MEDIA_TYPE, "User-Agent": USER_AGENT}
        what = f"POST /{owner}/{repo}.git/info/lfs/objects/batch"
        for attempt in (1, 2):
            token = self.token()
            reply = self._pacer.send(what, lambda token=token: self._plain_http(
                "POST", url, headers=headers, data=body.encode(), auth=("x-access-token", token)))
            if reply.status == 401 and attempt == 1:
                self._expire_token(token)
                continue
            break
        if reply.status == 404:
            raise RemoteNotFoundError(f"{what}: GitHub answered 404: {_message(reply)}", status=404)
        self._check("POST", what.split(" ", 1)[1], reply)
        try:
            answered = json.loads(reply.body)["objects"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GitHubError(f"{what}: the answer is not a batch response") from exc
        return [item for item in answered if isinstance(item, dict)]

    def lfs_download(self, action: Mapping[str, Any], sink: BinaryIO, limit: int) -> int:
        """GET an LFS object's bytes from a batch answer's ``download`` action into ``sink`` (rewound on a
        retry); ``DownloadTooLargeError`` past ``limit`` bytes. Only the action's own headers are sent:
        the href may be another host, and our token stays ours."""
        href = str(action["href"])
        headers = {str(k): str(v) for k, v in (action.get("header") or {}).items()}
        reply = self._pacer.send(f"GET {_path_of(href)}", lambda: self._plain_http(
            "GET", href, headers=headers, sink=sink, limit=limit))
        self._check("GET", href, reply)
        return sink.tell()

    def lfs_upload(self, action: Mapping[str, Any], path: Path) -> None:
        """PUT an LFS object's bytes (from ``path``) to a batch answer's ``upload`` action."""
        href = str(action["href"])
        headers = {str(k): str(v) for k, v in (action.get("header") or {}).items()}
        headers.setdefault("Content-Type", "application/octet-stream")

        def attempt() -> Reply:
            with Path(path).open("rb") as data:
                return self._plain_http("PUT", href, headers=headers, data=data)

        self._check("PUT", href, self._pacer.send(f"PUT {_path_of(href)}", attempt))

    def _plain_http(self, verb: str, url: str, *, headers: Mapping[str, str], data: Any = None,
                    auth: tuple[str, str] | None = None, sink: BinaryIO | None = None, limit: int = 0) -> Reply:
        """One counted request outside PyGithub (the LFS endpoints live on the git host, not the API)."""
        self._counter.add()
        try:
            with requests.request(verb, url, headers=dict(headers), data=data, auth=auth, stream=sink is not None,
                                  timeout=self._app.timeout_seconds, verify=self._app.ca_bundle or True,
                                  allow_redirects=sink is not None) as response:
                reply_headers = {k.lower(): str(v) for k, v in response.headers.items()}
                if sink is None or response.status_code != 200:
                    return Reply(status=response.status_code, headers=reply_headers, body=response.text[:20000])
                sink.seek(0)
                sink.truncate()
                total = 0
                for chunk in response.iter_content(chunk_size=1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise DownloadTooLargeError(f"GET {_path_of(url)}: more than {limit} bytes")
                    sink.write(chunk)
                return Reply(status=200, headers=reply_headers, body="")
        except requests.exceptions.SSLError as exc:
            raise GitHubError(f"TLS to {_path_of(url)} failed (is ca_bundle set to the server's CA?): "
                              f"{type(exc).__name__}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise TransientError(_describe(exc)) from exc

    def _optional_list(self, path: str, params: dict[str, Any] | None = None, *, key: str | None = None
                       ) -> list[dict] | None:
        try:
            return list(self.paginate(path, params, key=key))
        except GitHubError as exc:
            if exc.status == 403:
                return None
            raise

    # -- git ---------------------------------------------------------------------------------------

    def git_url(self, full_name: str) -> str:
        owner, repo = names.full_name(full_name)
        return f"{self._app.git_base_url}/{owner}/{repo}.git"

    def wiki_url(self, full_name: str) -> str:
        owner, repo = names.full_name(full_name)
        return f"{self._app.git_base_url}/{owner}/{repo}.wiki.git"

    def git_environment(self, *, renew: bool = False) -> dict[str, str]:
        """Environment for a git subprocess that authenticates as this installation.

        The token travels as an ``http.<url>.extraHeader`` scoped to the git host, through
        ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``: never in argv (visible in
        ``ps``), a URL, or a config file. A token with at least 5 minutes left each call; ``renew``
        mints a new one (after git was refused with the current one).
        """
        if renew and self._token_value is not None:
            self._expire_token(self._token_value)
        credentials = base64.b64encode(f"x-access-token:{self.token()}".encode()).decode("ascii")
        settings = [(f"http.{self._app.git_base_url}/.extraHeader", f"Authorization: Basic {credentials}")]
        if self._app.ca_bundle:
            settings.append(("http.sslCAInfo", str(Path(self._app.ca_bundle).resolve())))
        env = {"GIT_CONFIG_COUNT": str(len(settings)), "GIT_TERMINAL_PROMPT": "0"}
        for index, (key, value) in enumerate(settings):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def git_credentials(self) -> Callable[[], dict[str, str]]:
        """An ``env`` for ``Git.fetch_mirror``: the current token first, a newly minted one if git is
        refused (the token was revoked or expired during the run)."""
        calls = 0

        def environment() -> dict[str, str]:
            nonlocal calls
            calls += 1
            return self.git_environment(renew=calls > 1)

        return environment

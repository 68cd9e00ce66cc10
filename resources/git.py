"""Git: a cache of bare mirrors, and the bundle chains snapshots keep git data in.

    GitResource   Dagster configuration: the mirror cache directory, the command timeout
      └── Git     ls_remote / fetch_mirror / push / seed_mirror / create_bundle / restore_chain / unreachable_since / fsck

Every git command runs the same way (``Git._run``): ``git --git-dir=<absolute path>`` (no repository
discovery), ``-c protocol.version=2``, hooks pointed at ``/dev/null``, no credential helper or askpass,
memory caps on packing and pack access (``_CONFIG``: a run's memory does not grow with repository size),
the user's global and system config ignored, terminal prompts off, ``LC_ALL=C`` (error messages are
classified by their text), and ``--`` before positional arguments wherever git accepts it. Refs and
object ids that reach git come from ``resources.names`` validators, and are passed on stdin rather
than argv where git allows it. Credentials reach git only through the environment a caller passes
(``InstallationClient.git_environment``); anything that looks like one is redacted from git's
stderr before it goes into an exception.

Errors: ``RemoteNotFoundError`` (the repository or wiki does not exist), ``GitHubError`` (refused:
401/403, TLS), ``GitHubUnavailableError`` (5xx, resets, timeouts; retried with backoff first),
``IntegrityError`` (a bundle chain or repository that does not verify), ``GitCommandError`` (any
other local git failure).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from resources import names
from resources.errors import (
    GitCommandError,
    GitHubError,
    GitHubUnavailableError,
    IntegrityError,
    RemoteCorruptError,
    RemoteNotFoundError,
)
from resources.private_files import PRIVATE_UMASK, make_private_dirs
from resources.retry import Backoff, retry
from resources.scratch import scratch_dir

_CONFIG = (
    "-c", "protocol.version=2",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "core.fsmonitor=false",
    "-c", "gc.autoDetach=false",
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.file.allow=always",
    # Memory stays bounded whatever the repository's size (issue 11.6). By default pack-objects
    # (``bundle create``) tries to deltify every blob against the ten before it, holding them all
    # in memory, and maps whole packs: a 1 GiB repository of 64 MiB blobs took 1.2 GB of RSS. Blobs
    # above 32 MiB are stored whole (deflated, never deltified) and streamed by index-pack; the
    # delta window, the delta cache and the mapped pack windows are capped.
    "-c", "core.bigFileThreshold=32m",
    "-c", "pack.windowMemory=64m",
    "-c", "pack.deltaCacheSize=32m",
    "-c", "core.packedGitWindowSize=32m",
    "-c", "core.packedGitLimit=128m",
)  # fmt: skip
# Inherited variables git may use; every other one (GIT_DIR, GIT_TRACE*, GIT_CONFIG_*...) is dropped.
_INHERITED = (
    "PATH", "HOME", "TMPDIR", "SYSTEMROOT",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
)  # fmt: skip
_SAFE_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",  # empty: git skips askpass, then finds prompts disabled and fails
    "SSH_ASKPASS": "",
    "GIT_PROTOCOL_FROM_USER": "0",
    "LC_ALL": "C",
}
# Caller-supplied variables allowed through (credentials and CA bundle as GIT_CONFIG_* entries).
_CALLER_ENV = re.compile(r"GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)|GIT_TERMINAL_PROMPT")

_NOT_FOUND = (
    "repository not found",
    "' not found",
    "returned error: 404",
    "returned error: 410",
    "does not appear to be a git repository",
)
_AUTH = (
    "authentication failed",
    "returned error: 401",
    "could not read username",
    "terminal prompts disabled",
)
# The remote's own copy is damaged: the server says so before the transfer breaks off, so this is
# checked before the transient markers ("protocol error", "early eof") that the broken transfer also shows.
_REMOTE_CORRUPT = (
    "possible repository corruption on the remote side",
    "remote: fatal: unable to read",
    "remote: fatal: bad object",
    "remote: error: object file",
    "remote: fatal: loose object",
)
_TLS = ("ssl certificate problem", "server certificate verification failed", "certificate verify failed")
_TRANSIENT = (
    "returned error: 5",
    "returned error: 429",
    "rpc failed",
    "early eof",
    "unexpected disconnect",
    "remote end hung up",
    "connection reset",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "could not resolve host",
    "failed to connect",
    "transfer closed",
    "empty reply from server",
    "gnutls",
    "ssl_read",
    "ssl_connect",
    "http/2 stream",
    "curl 18",
    "curl 52",
    "curl 56",
    "index-pack failed",
    "unpack-objects failed",
    "protocol error",
)
_SECRETS = (
    re.compile(r"(?i)(authorization:\s*\w+\s+)\S+"),
    re.compile(r"(?i)(x-access-token:)[^@\s]+"),
    re.compile(r"()\bgh[opsur]_[A-Za-z0-9_]{10,}"),
    re.compile(r"(://)[^/@\s]+@"),
)


_SCRATCH_LOCK = threading.Lock()


class _FetchFailed(Exception):
    """A remote command that failed in a way worth trying again (git's message); never leaves ``_remote``."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class BundleInfo:
    """A bundle written by ``create_bundle``: its refs (ref -> object id) and prerequisite commits."""

    path: Path
    refs: dict[str, str]
    prerequisites: tuple[str, ...]
    size: int


class GitResource(dg.ConfigurableResource):
    """The git mirror cache: ``cache_dir/<customer>/<owner>/<repo>(.wiki).git``.

    The cache only makes fetches incremental; it is never the truth and may be deleted at any time
    (a cold cache is rebuilt from the previous snapshot's bundles).
    """

    cache_dir: str
    timeout_seconds: float = 3600
    fetch_retries: int = 4
    retry_base_seconds: float = 2.0

    def get_client(self) -> Git:
        return Git(
            Path(self.cache_dir),
            timeout_seconds=self.timeout_seconds,
            fetch_retries=self.fetch_retries,
            retry_base_seconds=self.retry_base_seconds,
        )


class Git:
    """Git commands against bare repositories, run safely (see the module docstring)."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        timeout_seconds: float = 3600,
        fetch_retries: int = 4,
        retry_base_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        executable: str = "git",
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.timeout_seconds = timeout_seconds
        self.fetch_retries = fetch_retries
        self.retry_base_seconds = retry_base_seconds
        self._sleep = sleep
        self._executable = executable

    def __repr__(self) -> str:
        return f"Git(cache_dir={str(self.cache_dir)!r})"

    # -- running git -------------------------------------------------------------------------------

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        for key, value in (extra or {}).items():
            if not _CALLER_ENV.fullmatch(key):
                raise GitCommandError(f"refusing to pass {key} to git")
            env[key] = value
        env.update(_SAFE_ENV)
        return env

    def _run(
        self,
        args: list[str],
        *,
        git_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        what: str,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        argv = [self._executable, *_CONFIG]
        if git_dir is not None:
            argv.append(f"--git-dir={Path(git_dir).absolute()}")
        argv += args
        try:
            result = subprocess.run(
                argv,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env=self._env(env),
                timeout=self.timeout_seconds,
                check=False,
                umask=PRIVATE_UMASK,  # a mirror holds customer data in plaintext: files 0600, folders 0700
            )
        except subprocess.TimeoutExpired:
            raise GitHubUnavailableError(
                f"{what}: git did not finish within {self.timeout_seconds:.0f} s"
            ) from None
        except OSError as exc:
            raise GitCommandError(f"{what}: cannot run git: {exc.strerror}") from exc
        if check and result.returncode != 0:
            raise GitCommandError(f"{what}: {_stderr(result)}")
        return result

    # -- the mirror cache --------------------------------------------------------------------------

    def mirror_path(self, customer: str, full_name: str, *, wiki: bool = False) -> Path:
        """``cache_dir/customer/owner/repo.git``, the wiki's ``cache_dir/customer/owner/wikis/repo.git``; names
        validated. A repository name never ends in ``.git``, so ``wikis`` is no repository's mirror, and the
        wiki of ``x`` and the repository ``x.wiki`` (which ``x.wiki.git`` would have shared) stay apart."""
        owner, repo = names.full_name(full_name)
        folder = self.cache_dir / names.customer(customer) / owner
        return folder / "wikis" / f"{repo}.git" if wiki else folder / f"{repo}.git"

    def _init(self, path: Path) -> None:
        make_private_dirs(path.parent)
        self._run(["init", "--bare", "--quiet", "--", str(path.absolute())], what=f"init {path}")

    def _is_repository(self, path: Path) -> bool:
        return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()

    def fetch_mirror(
        self, path: Path, url: str, env: Mapping[str, str] | Callable[[], Mapping[str, str]]
    ) -> dict[str, str]:
        """Bring the bare mirror at ``path`` up to date with every ref at ``url``; return its refs.

        Creates the mirror when absent. Fetches ``+refs/*:refs/*`` with ``--prune`` and ``--atomic``
        (all refs move together or none do). ``env`` carries the credentials; when it is a callable
        (``InstallationClient.git_credentials()``) it is called again once if git is refused.
        Transient failures are retried with exponential backoff and full jitter.
        """
        path = Path(path)
        display = _display_url(url)
        if not self._is_repository(path):
            if path.exists():
                shutil.rmtree(path)
            self._init(path)
        what = f"fetch {display} into {path}"
        self._remote(["fetch", "--prune", "--atomic", "--quiet", "--no-write-fetch-head", "--", url, "+refs/*:refs/*"],
                     git_dir=path, env=env, what=what)
        return self.refs(path)

    def ls_remote(self, url: str, env: Mapping[str, str] | Callable[[], Mapping[str, str]]) -> dict[str, str]:
        """Every ref under ``refs/`` at ``url`` and the object id it points at, fetching nothing.

        One ref advertisement (``git ls-remote --refs``: no peeled tags, no ``HEAD``), which is what a
        fetch of ``+refs/*:refs/*`` would set the mirror's refs to: equal to yesterday's recorded tips
        means a fetch would bring nothing. Credentials, retries and errors as for ``fetch_mirror``.
        """
        what = f"list refs of {_display_url(url)}"
        result = self._remote(["ls-remote", "--refs", "--", url], git_dir=self._scratch_repository(), env=env,
                              what=what)
        refs: dict[str, str] = {}
        for line in result.stdout.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition("\t")
            if not ref.startswith("refs/"):
                raise GitHubError(f"{what}: unexpected line in the ref advertisement")
            refs[ref] = names.sha(sha)
        return refs

    def _scratch_repository(self) -> Path:
        """An empty bare repository for commands that need none (so git never discovers one from cwd)."""
        path = self.cache_dir / ".scratch.git"
        with _SCRATCH_LOCK:
            if not self._is_repository(path):
                self._init(path)
        return path

    def _remote(
        self,
        args: list[str],
        *,
        git_dir: Path,
        env: Mapping[str, str] | Callable[[], Mapping[str, str]],
        what: str,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a git command that talks to a remote (fetch, ls-remote). ``env`` carries the credentials;
        when it is a callable (``InstallationClient.git_credentials()``) it is called again once if git
        is refused. Transient failures are retried with exponential backoff and full jitter; the rest
        are classified (TLS, authentication, not found) into our errors."""
        auth_retried = False
        attempt_env = env() if callable(env) else env

        def attempt() -> subprocess.CompletedProcess[bytes]:
            nonlocal auth_retried, attempt_env
            while True:
                result = self._run(args, git_dir=git_dir, env=attempt_env, what=what, check=False)
                if result.returncode == 0:
                    return result
                message = _stderr(result, secrets=_secrets_in(attempt_env))
                lowered = message.lower()
                if any(marker in lowered for marker in _TLS):
                    raise GitHubError(f"{what}: TLS verification failed (is the CA bundle set?): {message}")
                if any(marker in lowered for marker in _AUTH):
                    if callable(env) and not auth_retried:
                        auth_retried = True  # the token was revoked or expired: ask for new credentials
                        attempt_env = env()
                        continue
                    raise GitHubError(f"{what}: authentication refused: {message}", status=401)
                if any(marker in lowered for marker in _NOT_FOUND):
                    raise RemoteNotFoundError(f"{what}: the remote repository does not exist: {message}")
                if any(marker in lowered for marker in _REMOTE_CORRUPT):
                    raise RemoteCorruptError(f"{what}: the remote repository is corrupt (ask GitHub support to "
                                             f"repair it): {message}")
                # git shows a 403 without GitHub's reason: a secondary rate limit looks like a refusal,
                # so it is retried like a transient failure and called a refusal only if it persists.
                refused = "returned error: 403" in lowered
                if refused or any(marker in lowered for marker in _TRANSIENT):
                    raise _FetchFailed(message, refused)
                raise GitHubError(f"{what}: {message}")

        try:
            return retry(
                attempt,
                transient=lambda exc: isinstance(exc, _FetchFailed),
                retries=self.fetch_retries,
                backoff=Backoff(self.retry_base_seconds),
                what=what,
                sleep=self._sleep,
            )
        except _FetchFailed as exc:
            failures = self.fetch_retries + 1
            if exc.refused:
                raise GitHubError(f"{what}: access refused {failures} times: {exc}", status=403) from None
            raise GitHubUnavailableError(f"{what}: failed {failures} times: {exc}") from None

    def push(self, path: Path, url: str, env: Mapping[str, str], refspecs: Iterable[str]) -> None:
        """Push ``refspecs`` of the bare repository at ``path`` to ``url``, all or none (``--atomic``).

        Used by a restore to GitHub. ``env`` carries the credentials, as for ``fetch_mirror``; the
        refspecs are given on argv after ``--`` (``+refs/heads/*:refs/heads/*`` and the like).
        """
        path = Path(path)
        display = _display_url(url)
        specs = list(refspecs)
        for spec in specs:
            source, _, destination = spec.lstrip("+").partition(":")
            for name in (source, destination or source):
                names.ref(name.replace("*", "x"))
        what = f"push {path} to {display}"
        result = self._run(
            ["push", "--atomic", "--porcelain", "--quiet", "--", url, *specs],
            git_dir=path,
            env=env,
            what=what,
            check=False,
        )
        if result.returncode == 0:
            return
        message = _stderr(result, secrets=_secrets_in(env)) + " " + redact(_text(result.stdout), _secrets_in(env))
        lowered = message.lower()
        if any(marker in lowered for marker in _TLS):
            raise GitHubError(f"{what}: TLS verification failed (is the CA bundle set?): {message}")
        if any(marker in lowered for marker in _AUTH):
            raise GitHubError(f"{what}: authentication refused: {message}", status=401)
        if any(marker in lowered for marker in _NOT_FOUND):
            raise RemoteNotFoundError(f"{what}: the remote repository does not exist: {message}")
        if "returned error: 403" in lowered:
            raise GitHubError(f"{what}: access refused: {message}", status=403)
        if any(marker in lowered for marker in _TRANSIENT):
            raise GitHubUnavailableError(f"{what}: {message}")
        raise GitHubError(f"{what}: {message}")

    def refs(self, path: Path) -> dict[str, str]:
        """Every ref under ``refs/`` and the object id it points at."""
        result = self._run(
            ["for-each-ref", "--format=%(objectname) %(refname)"],
            git_dir=Path(path),
            what=f"list refs of {path}",
        )
        refs: dict[str, str] = {}
        for line in result.stdout.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition(" ")
            if ref:
                refs[ref] = sha
        return refs

    def set_head(self, path: Path, ref: str) -> None:
        """Point ``HEAD`` at ``ref`` (the default branch), which need not exist yet."""
        self._run(
            ["symbolic-ref", "--", "HEAD", names.ref(ref)], git_dir=Path(path), what=f"set HEAD of {path}"
        )

    def seed_mirror(self, path: Path, bundles: list[Path], tips: dict[str, str]) -> None:
        """Rebuild a cold mirror from a bundle chain (full first), with refs set exactly to ``tips``.

        Built beside ``path`` and moved into place, so a failure never leaves a half mirror.
        """
        path = Path(path)
        make_private_dirs(path.parent)
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.seed-", dir=path.parent))
        try:
            self.restore_chain(bundles, scratch / "mirror.git", tips)
            if path.exists():
                shutil.rmtree(path)
            (scratch / "mirror.git").rename(path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # -- bundles -----------------------------------------------------------------------------------

    def create_bundle(self, path: Path, out: Path, *, exclude: Iterable[str] = ()) -> BundleInfo | None:
        """Bundle every ref of ``path`` into ``out``; with ``exclude`` (previous tips) an increment.

        Returns None, writing nothing, when there is nothing new to put in it: an empty repository,
        or refs that only moved to (or were deleted from) objects the excluded tips already reach.
        Excluded ids the repository does not have are ignored (the bundle is then larger, never wrong).
        """
        path, out = Path(path), Path(out).absolute()
        present = self._present(path, [names.sha(value) for value in exclude])
        stdin = "".join(f"^{sha}\n" for sha in sorted(present)).encode()
        make_private_dirs(out.parent)
        result = self._run(
            ["bundle", "create", "--quiet", str(out), "--all", "--stdin"],
            git_dir=path,
            stdin=stdin,
            what=f"bundle {path}",
            check=False,
        )
        if result.returncode != 0:
            out.unlink(missing_ok=True)
            if b"empty bundle" in result.stderr:
                return None
            raise GitCommandError(f"bundle {path}: {_stderr(result)}")
        return read_bundle_header(out)

    def _present(self, path: Path, shas: list[str]) -> set[str]:
        if not shas:
            return set()
        result = self._run(
            ["cat-file", "--batch-check=%(objectname)"],
            git_dir=path,
            stdin="".join(f"{sha}\n" for sha in shas).encode(),
            what=f"look up objects in {path}",
        )
        found = {
            line.strip() for line in result.stdout.decode().splitlines() if not line.endswith(" missing")
        }
        return found & set(shas)

    def unreachable_since(self, path: Path, old_tips: Iterable[str], new_tips: Iterable[str]) -> bool:
        """True when something reachable from ``old_tips`` is not reachable from ``new_tips``.

        That happens after a force-push or a deleted branch or tag. An old tip the repository no
        longer has counts as unreachable.
        """
        path = Path(path)
        old = [names.sha(value) for value in old_tips]
        new = [names.sha(value) for value in new_tips]
        old_present = self._present(path, old)
        if len(old_present) < len(set(old)):
            return True
        if not old_present:
            return False
        new_present = self._present(path, new)
        stdin = "".join(f"{sha}\n" for sha in sorted(old_present))
        stdin += "".join(f"^{sha}\n" for sha in sorted(new_present))
        # Commits first (cheap, and the usual case), then other objects (a deleted annotated tag).
        for extra in (["--max-count=1"], ["--objects"]):
            result = self._run(
                ["rev-list", *extra, "--stdin"],
                git_dir=path,
                stdin=stdin.encode(),
                what=f"compare tips in {path}",
            )
            if result.stdout.strip():
                return True
        return False

    def restore_chain(self, bundles: list[Path], into: Path, tips: dict[str, str]) -> dict[str, str]:
        """Create a bare repository at ``into`` from a bundle chain and set its refs exactly to ``tips``.

        Bundles are applied in order (the full one first). Raises ``IntegrityError`` when a bundle is
        damaged, a prerequisite is missing, or a tip's object is not in the chain.
        """
        into = Path(into)
        checked = {names.ref(ref): names.sha(sha) for ref, sha in tips.items()}
        if into.exists() and any(into.iterdir()):
            raise GitCommandError(f"restore into {into}: the directory is not empty")
        self._init(into)
        for bundle in bundles:
            bundle = Path(bundle).absolute()
            result = self._run(
                ["bundle", "unbundle", str(bundle)], git_dir=into, what=f"unbundle {bundle.name}", check=False
            )
            if result.returncode != 0:
                raise IntegrityError(
                    f"unbundle {bundle.name} into {into}: {_stderr(result)}; the chain is damaged or incomplete "
                    "(verify the snapshot; a new full bundle is cut on the next backup)"
                )
        missing = set(checked.values()) - self._present(into, list(checked.values()))
        if missing:
            raise IntegrityError(
                f"restore {into}: the bundle chain lacks the objects of {len(missing)} recorded tips "
                f"(e.g. {sorted(missing)[0]})"
            )
        self._set_refs(into, checked)
        return self.refs(into)

    def _set_refs(self, path: Path, tips: dict[str, str]) -> None:
        current = self.refs(path)
        lines = [f"delete {ref}\n" for ref in sorted(current) if ref not in tips]
        lines += [f"update {ref} {sha}\n" for ref, sha in sorted(tips.items()) if current.get(ref) != sha]
        if lines:
            self._run(
                ["update-ref", "--stdin"],
                git_dir=path,
                stdin="".join(lines).encode("utf-8", "surrogateescape"),
                what=f"set refs of {path}",
            )

    # -- verification ------------------------------------------------------------------------------

    def fsck(self, path: Path) -> None:
        """``git fsck --full``; IntegrityError carrying git's message when anything is wrong."""
        result = self._run(
            ["fsck", "--full", "--no-dangling", "--no-progress"],
            git_dir=Path(path),
            what=f"fsck {path}",
            check=False,
        )
        if result.returncode != 0:
            raise IntegrityError(
                f"fsck {path}: {_stderr(result) or _text(result.stdout)}; the repository is corrupt "
                "(restore it from another snapshot)"
            )

    def check_increment(self, mirror: Path, bundle: Path, previous_tips: Iterable[str], tips: Iterable[str]) -> None:
        """Prove that an incremental bundle takes a chain restoring ``previous_tips`` to one restoring
        ``tips``, without rebuilding the chain: its prerequisites are reachable from ``previous_tips``,
        it unbundles (``index-pack`` hashes every object) into a scratch repository that borrows
        ``mirror``'s objects read-only, and it carries every object reachable from ``tips`` but not
        from ``previous_tips``. IntegrityError naming what is wrong; the mirror is never written."""
        previous = sorted({names.sha(value) for value in previous_tips})
        wanted = sorted({names.sha(value) for value in tips})
        bundle = Path(bundle).absolute()
        with scratch_dir("increment") as scratch_root:
            scratch = scratch_root / "repo.git"
            self._init(scratch)
            (scratch / "objects" / "info" / "alternates").write_text(f"{(Path(mirror) / 'objects').absolute()}\n")
            header = read_bundle_header(bundle)
            if header.prerequisites and self.unreachable_since(scratch, header.prerequisites, previous):
                raise IntegrityError(f"bundle {bundle.name}: a prerequisite is not reachable from the previous "
                                     "snapshot's tips, so the chain does not supply it")
            result = self._run(["bundle", "unbundle", str(bundle)], git_dir=scratch, what=f"unbundle {bundle.name}",
                               check=False)
            if result.returncode != 0:
                raise IntegrityError(f"unbundle {bundle.name}: {_stderr(result)}; the bundle is damaged")
            carried: set[str] = set()
            for index in (scratch / "objects" / "pack").glob("*.idx"):
                shown = self._run(["show-index"], git_dir=scratch, stdin=index.read_bytes(), what=f"read {index.name}")
                carried.update(line.split()[1].decode() for line in shown.stdout.splitlines() if line.strip())
            stdin = "".join(f"{sha}\n" for sha in wanted) + "".join(f"^{sha}\n" for sha in previous)
            listed = self._run(["rev-list", "--objects", "--stdin"], git_dir=scratch, stdin=stdin.encode(),
                               what=f"list new objects for {bundle.name}", check=False)
            if listed.returncode != 0:
                raise IntegrityError(f"bundle {bundle.name}: the recorded tips' history is incomplete: {_stderr(listed)}")
            needed = {line.split(b" ", 1)[0].decode() for line in listed.stdout.splitlines() if line}
            missing = needed - carried
            if missing:
                raise IntegrityError(f"bundle {bundle.name}: lacks {len(missing)} object(s) the recorded tips need "
                                     f"beyond the previous snapshot's, e.g. {sorted(missing)[0]}")

    def lfs_pointers(self, path: Path, tips: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, int]:
        """Git LFS pointer files (git-lfs docs/spec.md) reachable from ``tips`` but not from ``exclude``
        (those of the repository the mirror holds): oid -> size.

        ``rev-list --objects`` lists the objects, leaving out blobs of 1024 bytes or more (a pointer is
        smaller); ``cat-file --batch-check`` keeps the blobs; ``cat-file --batch`` reads them, and
        ``parse_lfs_pointer`` keeps those that are pointers. An excluded tip this mirror lacks is left
        out of the exclusion (the walk is then larger, never wrong).
        """
        path = Path(path)
        wanted = sorted({names.sha(value) for value in tips})
        if not wanted:
            return {}
        excluded = sorted(self._present(path, sorted({names.sha(value) for value in exclude})))
        stdin = "".join(f"{sha}\n" for sha in wanted) + "".join(f"^{sha}\n" for sha in excluded)
        listed = self._run(["rev-list", "--objects", "--filter=blob:limit=1024", "--stdin"], git_dir=path,
                           stdin=stdin.encode(), what=f"list small objects of {path}")
        objects = sorted({line.split(b" ", 1)[0].decode() for line in listed.stdout.splitlines() if line})
        if not objects:
            return {}
        checked = self._run(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], git_dir=path,
                            stdin="".join(f"{sha}\n" for sha in objects).encode(), what=f"size up objects of {path}")
        blobs = []
        for line in checked.stdout.decode().splitlines():
            sha, kind, size = (line.split(" ") + ["", ""])[:3]
            if kind == "blob" and size.isdigit() and int(size) < LFS_POINTER_MAX:
                blobs.append(sha)
        if not blobs:
            return {}
        read = self._run(["cat-file", "--batch"], git_dir=path, stdin="".join(f"{sha}\n" for sha in blobs).encode(),
                         what=f"read small blobs of {path}")
        found: dict[str, int] = {}
        data, at = read.stdout, 0
        while at < len(data):
            end = data.index(b"\n", at)
            size = int(data[at:end].split(b" ")[2])
            pointer = parse_lfs_pointer(data[end + 1:end + 1 + size])
            if pointer is not None:
                found[pointer[0]] = pointer[1]
            at = end + 1 + size + 1
        return found

    def object_ids(self, path: Path) -> set[str]:
        """Every object reachable from any ref (``rev-list --all --objects``)."""
        result = self._run(
            ["rev-list", "--all", "--objects"], git_dir=Path(path), what=f"list objects of {path}"
        )
        return {line.split(b" ", 1)[0].decode() for line in result.stdout.splitlines() if line}


LFS_POINTER_MAX = 1024  # git-lfs docs/spec.md: a pointer file "must be less than 1024 bytes"
_LFS_VERSIONS = (b"https://git-lfs.github.com/spec/v1", b"https://hawser.github.com/spec/v1")
_LFS_OID = re.compile(rb"^sha256:([0-9a-f]{64})$")


def parse_lfs_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) of a Git LFS pointer file, or None for anything else.

    Per git-lfs docs/spec.md: UTF-8 ``key value`` lines ending in LF, ``version`` first, the other keys
    sorted, ``oid sha256:<64 lower-case hex>`` and ``size <bytes>`` required, under 1024 bytes."""
    if len(data) >= LFS_POINTER_MAX or not data.endswith(b"\n") or b"\r" in data:
        return None
    lines = data[:-1].split(b"\n")
    pairs = [line.partition(b" ") for line in lines]
    if any(not sep for _key, sep, _value in pairs):
        return None
    keys = [key for key, _sep, _value in pairs]
    if keys[0] != b"version" or keys[1:] != sorted(keys[1:]) or len(set(keys)) != len(keys):
        return None
    values = {key: value for key, _sep, value in pairs}
    if values[b"version"] not in _LFS_VERSIONS:
        return None
    oid = _LFS_OID.match(values.get(b"oid", b""))
    size = values.get(b"size", b"")
    if oid is None or not size.isdigit():
        return None
    return oid.group(1).decode(), int(size)


def read_bundle_header(path: Path) -> BundleInfo:
    """Parse a v2/v3 bundle's header: refs (``HEAD`` left out) and prerequisites."""
    path = Path(path)
    refs: dict[str, str] = {}
    prerequisites: list[str] = []
    with path.open("rb") as handle:
        signature = handle.readline()
        if signature not in (b"# v2 git bundle\n", b"# v3 git bundle\n"):
            raise IntegrityError(f"read bundle {path.name}: not a git bundle")
        for raw in handle:
            line = raw.rstrip(b"\n").decode("utf-8", "surrogateescape")
            if not line:
                break
            if line.startswith("@"):
                continue
            if line.startswith("-"):
                prerequisites.append(line[1:].split(" ", 1)[0])
                continue
            sha, _, ref = line.partition(" ")
            if ref.startswith("refs/"):
                refs[ref] = sha
        else:
            raise IntegrityError(f"read bundle {path.name}: the header is truncated")
    return BundleInfo(path=path, refs=refs, prerequisites=tuple(prerequisites), size=path.stat().st_size)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials removed: given secrets, auth headers, tokens, URL userinfo."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRETS:
        text = pattern.sub(lambda match: f"{match.group(1)}***", text)
    return text


def _stderr(result: subprocess.CompletedProcess[bytes], secrets: Iterable[str] = ()) -> str:
    lines = [line for line in _text(result.stderr).splitlines() if line.strip()]
    message = " | ".join(lines[-6:]) or f"git exited with status {result.returncode}"
    return redact(message, secrets)


def _secrets_in(env: Mapping[str, str]) -> list[str]:
    """Values in a git environment that carry credentials, and their decoded forms."""

    secrets: list[str] = []
    for key, value in env.items():
        if key.startswith("GIT_CONFIG_VALUE_") and "authorization" in value.lower():
            secrets.append(value)
            credential = value.split()[-1]
            secrets.append(credential)
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            secrets += [decoded, decoded.partition(":")[2]]
    return sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)


def _display_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise GitCommandError(f"refusing to fetch from a {parts.scheme or 'non-URL'} remote")
    if parts.username or parts.password:
        raise GitCommandError("refusing a remote URL with credentials in it: pass them in the environment")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

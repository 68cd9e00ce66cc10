"""The git resource against local repositories: mirrors, bundle chains, reachability, integrity."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import pytest

from resources.errors import (
    GitCommandError,
    GitHubUnavailableError,
    IntegrityError,
    InvalidNameError,
    RemoteNotFoundError,
)
from resources.git import Git, GitResource, parse_lfs_pointer, read_bundle_header, redact
from tests.resources.conftest import Work
from tests.servers import free_port

UNICODE_BRANCH = "refs/heads/fonctionnalité/日本語"


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path / "cache", timeout_seconds=60, fetch_retries=2, retry_base_seconds=0.01)


def populate(work: Work) -> None:
    """History with everything a mirror must carry: odd ref names, Unicode, tags, notes, PR refs."""
    first = work.commit({"README.md": "hello\n", "dossier/résumé ünïcødé.txt": "é\n"}, "first")
    work.git("update-ref", "refs/heads/-dash", first)
    work.commit({"src/main.py": "print('hi')\n"}, "second")
    work.git("tag", "-a", "v1.0", "-m", "release 1.0")
    work.git("tag", "light", first)
    work.git("notes", "add", "-m", "a note", first)
    work.git("update-ref", UNICODE_BRANCH, first)
    work.git("update-ref", "refs/pull/1/head", first)


def test_fetch_mirror_copies_every_ref_including_dash_unicode_tags_and_notes(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")

    refs = git.fetch_mirror(mirror, work.url, {})

    assert refs == work.refs()
    assert {
        "refs/heads/-dash",
        UNICODE_BRANCH,
        "refs/tags/v1.0",
        "refs/notes/commits",
        "refs/pull/1/head",
    } <= set(refs)
    assert mirror == git.cache_dir / "acme" / "acme" / "widgets.git"
    git.fsck(mirror)


def test_fetch_mirror_prunes_deleted_refs_and_takes_force_pushes(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    git.fetch_mirror(mirror, work.url, {})
    work.git("update-ref", "-d", "refs/heads/-dash")
    work.git("reset", "--quiet", "--hard", "HEAD~1")
    rewritten = work.commit({"other.txt": "x\n"}, "rewritten")

    refs = git.fetch_mirror(mirror, work.url, {})

    assert "refs/heads/-dash" not in refs
    assert refs["refs/heads/main"] == rewritten
    assert refs == work.refs()


def test_mirror_path_refuses_unsafe_names(git: Git) -> None:
    for customer, full_name in [("acme", "../etc"), ("acme", "-rf/x"), ("Acme", "acme/x"), ("acme", "a/b/c")]:
        with pytest.raises(InvalidNameError):
            git.mirror_path(customer, full_name)
    assert git.mirror_path("acme", "acme/x", wiki=True).relative_to(git.cache_dir).parts == ("acme", "acme", "wikis", "x.git")
    assert git.mirror_path("acme", "acme/x.wiki") != git.mirror_path("acme", "acme/x", wiki=True)


def test_fetch_from_a_missing_remote_raises_remote_not_found(git: Git, tmp_path: Path) -> None:
    with pytest.raises(RemoteNotFoundError):
        git.fetch_mirror(git.mirror_path("acme", "acme/gone"), (tmp_path / "nowhere.git").as_uri(), {})


def test_fetch_from_an_unreachable_server_is_retried_then_unavailable(tmp_path: Path) -> None:
    sleeps: list[float] = []
    git = Git(tmp_path / "cache", fetch_retries=2, retry_base_seconds=0.5, sleep=sleeps.append)
    url = f"http://127.0.0.1:{free_port()}/acme/widgets.git"

    with pytest.raises(GitHubUnavailableError, match="failed 3 times"):
        git.fetch_mirror(git.mirror_path("acme", "acme/widgets"), url, {})
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_fetch_refuses_credentials_in_the_url_or_foreign_environment(git: Git, work: Work) -> None:
    mirror = git.mirror_path("acme", "acme/widgets")
    with pytest.raises(GitCommandError, match="credentials") as caught:
        git.fetch_mirror(mirror, "https://x-access-token:ghs_secret123456@github.com/acme/widgets.git", {})
    assert "ghs_secret123456" not in str(caught.value)
    with pytest.raises(GitCommandError, match="GIT_DIR"):
        git.fetch_mirror(mirror, work.url, {"GIT_DIR": "/tmp"})


def test_git_ignores_hooks_global_config_and_inherited_git_variables(
    git: Git, work: Work, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(work)
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook = hooks / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    global_config = tmp_path / "gitconfig"
    global_config.write_text(
        f'[core]\n\thooksPath = {hooks}\n[url "file:///nonexistent/"]\n\tinsteadOf = file://\n'
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text(global_config.read_text())
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    mirror = git.mirror_path("acme", "acme/widgets")
    git._init(mirror)
    (mirror / "hooks" / "reference-transaction").write_text(hook.read_text())
    (mirror / "hooks" / "reference-transaction").chmod(0o755)

    assert git.fetch_mirror(mirror, work.url, {}) == work.refs()
    assert not marker.exists()


def test_empty_repository_has_no_refs_and_no_bundle(git: Git, tmp_path: Path) -> None:
    empty = tmp_path / "empty.git"
    git._init(empty)

    assert git.refs(empty) == {}
    assert git.create_bundle(empty, tmp_path / "out.bundle") is None
    assert not (tmp_path / "out.bundle").exists()


def test_empty_remote_gives_an_empty_mirror(git: Git, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git._init(remote)
    assert git.fetch_mirror(git.mirror_path("acme", "acme/empty"), remote.as_uri(), {}) == {}


def test_full_bundle_records_every_ref_and_no_prerequisites(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    git.fetch_mirror(mirror, work.url, {})

    info = git.create_bundle(mirror, tmp_path / "full.bundle")

    assert info is not None
    assert info.refs == work.refs()
    assert info.prerequisites == ()
    assert info.size == (tmp_path / "full.bundle").stat().st_size
    assert read_bundle_header(info.path) == info


def test_bundle_is_none_when_refs_only_move_back_or_are_deleted(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    tips = git.fetch_mirror(mirror, work.url, {})
    work.git("update-ref", "-d", "refs/heads/-dash")
    work.git("reset", "--quiet", "--hard", "HEAD~1")
    work.git("update-ref", "refs/heads/new-branch-on-old-commit", "HEAD")
    git.fetch_mirror(mirror, work.url, {})

    assert git.create_bundle(mirror, tmp_path / "inc.bundle", exclude=tips.values()) is None
    assert git.unreachable_since(mirror, tips.values(), git.refs(mirror).values()) is False


def test_incremental_chain_of_three_bundles_restores_exactly(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    bundles: list[Path] = []
    tips: dict[str, str] = {}
    for day in range(3):
        if day:
            work.commit({f"day{day}/ファイル.txt": f"{day}\n"}, f"day {day}")
            work.git("update-ref", f"refs/heads/-day{day}", "HEAD")
            work.git("tag", f"day{day}")
        previous = tips
        tips = git.fetch_mirror(mirror, work.url, {})
        info = git.create_bundle(mirror, tmp_path / f"{day}.bundle", exclude=previous.values())
        assert info is not None
        assert bool(info.prerequisites) == bool(day)
        bundles.append(info.path)
    assert sum(p.stat().st_size for p in bundles[1:]) < bundles[0].stat().st_size

    restored = git.restore_chain(bundles, tmp_path / "restored.git", tips)

    assert restored == tips == work.refs()
    assert git.object_ids(tmp_path / "restored.git") == git.object_ids(mirror)
    git.fsck(tmp_path / "restored.git")


def test_restore_sets_refs_exactly_to_the_recorded_tips(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    tips = git.fetch_mirror(mirror, work.url, {})
    full = git.create_bundle(mirror, tmp_path / "full.bundle")
    assert full is not None
    work.git("update-ref", "-d", "refs/heads/-dash")  # day 2: a deletion, no new objects
    day2 = git.fetch_mirror(mirror, work.url, {})
    assert git.create_bundle(mirror, tmp_path / "none.bundle", exclude=tips.values()) is None

    restored = git.restore_chain([full.path], tmp_path / "restored.git", day2)

    assert restored == day2 and "refs/heads/-dash" not in restored


def test_restore_without_the_full_bundle_is_an_integrity_error(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    tips = git.fetch_mirror(mirror, work.url, {})
    work.commit({"more.txt": "more\n"})
    new_tips = git.fetch_mirror(mirror, work.url, {})
    increment = git.create_bundle(mirror, tmp_path / "inc.bundle", exclude=tips.values())
    assert increment is not None

    with pytest.raises(IntegrityError, match="unbundle"):
        git.restore_chain([increment.path], tmp_path / "restored.git", new_tips)


def test_restore_with_a_tip_missing_from_the_chain_is_an_integrity_error(
    git: Git, work: Work, tmp_path: Path
) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    git.fetch_mirror(mirror, work.url, {})
    full = git.create_bundle(mirror, tmp_path / "full.bundle")
    assert full is not None

    with pytest.raises(IntegrityError, match="lacks"):
        git.restore_chain([full.path], tmp_path / "restored.git", {"refs/heads/main": "1" * 40})


def test_restore_refuses_invalid_tip_names(git: Git, tmp_path: Path) -> None:
    for tips in ({"refs/heads/a b": "1" * 40}, {"HEAD": "1" * 40}, {"refs/heads/x": "--all"}):
        with pytest.raises(InvalidNameError):
            git.restore_chain([], tmp_path / "restored.git", tips)


def test_unreachable_since_detects_force_push_and_deleted_branch(git: Git, work: Work) -> None:
    populate(work)
    side = work.commit({"side.txt": "side\n"}, "side")
    work.git("update-ref", "refs/heads/side", side)
    work.git("reset", "--quiet", "--hard", "HEAD~1")
    mirror = git.mirror_path("acme", "acme/widgets")
    old = git.fetch_mirror(mirror, work.url, {})

    work.commit({"grow.txt": "grow\n"}, "grow")
    grown = git.fetch_mirror(mirror, work.url, {})
    assert git.unreachable_since(mirror, old.values(), grown.values()) is False

    work.git("update-ref", "-d", "refs/heads/side")
    deleted = git.fetch_mirror(mirror, work.url, {})
    assert git.unreachable_since(mirror, grown.values(), deleted.values()) is True

    work.git("reset", "--quiet", "--hard", "HEAD~1")
    work.commit({"forced.txt": "forced\n"}, "forced")
    forced = git.fetch_mirror(mirror, work.url, {})
    assert git.unreachable_since(mirror, deleted.values(), forced.values()) is True


def test_unreachable_since_detects_a_deleted_annotated_tag(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    old = git.fetch_mirror(mirror, work.url, {})
    work.git("tag", "-d", "v1.0")
    new = git.fetch_mirror(mirror, work.url, {})
    assert git.unreachable_since(mirror, old.values(), new.values()) is True


def test_unreachable_since_counts_an_unknown_old_tip_as_unreachable(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    tips = git.fetch_mirror(mirror, work.url, {})
    assert git.unreachable_since(mirror, ["2" * 40], tips.values()) is True


def test_seed_mirror_rebuilds_a_cold_cache_that_fetch_then_updates(
    git: Git, work: Work, tmp_path: Path
) -> None:
    populate(work)
    warm = Git(tmp_path / "warm-cache")
    source_mirror = warm.mirror_path("acme", "acme/widgets")
    tips = warm.fetch_mirror(source_mirror, work.url, {})
    full = warm.create_bundle(source_mirror, tmp_path / "full.bundle")
    assert full is not None
    work.commit({"after.txt": "after\n"}, "after")

    cold = git.mirror_path("acme", "acme/widgets")
    git.seed_mirror(cold, [full.path], tips)
    assert git.refs(cold) == tips
    refs = git.fetch_mirror(cold, work.url, {})
    increment = git.create_bundle(cold, tmp_path / "inc.bundle", exclude=tips.values())

    assert refs == work.refs()
    assert increment is not None and increment.size < full.size
    assert list(cold.parent.iterdir()) == [cold]  # no scratch left beside it


def test_fsck_raises_integrity_error_on_a_corrupted_object(git: Git, work: Work, tmp_path: Path) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    git.fetch_mirror(mirror, work.url, {})
    git.fsck(mirror)
    blob = work.git("rev-parse", "HEAD:src/main.py")
    loose = mirror / "objects" / blob[:2] / blob[2:]  # a small fetch is stored as loose objects
    loose.chmod(0o644)
    loose.write_bytes(zlib.compress(b"blob 5\x00evil\n"))  # content that no longer hashes to its id

    with pytest.raises(IntegrityError, match="fsck"):
        git.fsck(mirror)


def test_object_ids_lists_every_reachable_object(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")
    git.fetch_mirror(mirror, work.url, {})
    expected = {line.split(" ")[0] for line in work.git("rev-list", "--all", "--objects").splitlines()}
    assert git.object_ids(mirror) == expected


def test_redact_removes_every_form_of_a_token() -> None:
    text = (
        "fatal: Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw== failed; "
        "https://x-access-token:ghs_abcdefghijklmnop@github.com/a/b.git ghs_abcdefghijklmnop"
    )
    cleaned = redact(text, ["sekrit-value"])
    assert "eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw==" not in cleaned
    assert "ghs_abcdefghijklmnop" not in cleaned


def test_git_resource_hands_out_a_client_on_its_cache_dir(tmp_path: Path) -> None:
    client = GitResource(cache_dir=str(tmp_path)).get_client()
    assert client.cache_dir == tmp_path
    assert os.fspath(tmp_path) in repr(client)


def test_ls_remote_lists_exactly_the_refs_a_mirror_fetch_brings_without_fetching(git: Git, work: Work) -> None:
    populate(work)
    mirror = git.mirror_path("acme", "acme/widgets")

    advertised = git.ls_remote(work.url, {})

    assert not mirror.exists()
    assert advertised == git.fetch_mirror(mirror, work.url, {}) == work.refs()
    assert "HEAD" not in advertised and not any(ref.endswith("^{}") for ref in advertised)


def test_ls_remote_of_a_missing_remote_raises_remote_not_found_and_refuses_credentials_in_the_url(
        git: Git, work: Work, tmp_path: Path) -> None:
    with pytest.raises(RemoteNotFoundError):
        git.ls_remote((tmp_path / "absent.git").as_uri(), {})
    with pytest.raises(GitCommandError, match="credentials"):
        git.ls_remote("https://x-access-token:secret@example.invalid/a/b.git", {})


def test_ls_remote_of_an_empty_remote_is_empty(git: Git, tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    Work(tmp_path / "w").git("init", "--quiet", "--bare", str(bare))

    assert git.ls_remote(bare.as_uri(), {}) == {}


def _pointer(data: bytes) -> str:
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
            f"size {len(data)}\n")


def test_lfs_pointers_lists_the_pointer_files_reachable_from_tips_and_not_from_excluded_ones(git: Git, work: Work) -> None:
    first = work.commit({"a.bin": _pointer(b"one"), "README.md": "version 1\n",
                         "fake.txt": "version https://git-lfs.github.com/spec/v1\noid sha256:xyz\nsize 1\n"})
    second = work.commit({"b/c.bin": _pointer(b"two"), "big.txt": "x" * 5000})
    work.git("update-ref", "refs/heads/side", first)
    mirror = git.mirror_path("acme", "acme/lfs")
    git.fetch_mirror(mirror, work.url, {})
    one, two = (hashlib.sha256(data).hexdigest() for data in (b"one", b"two"))

    assert git.lfs_pointers(mirror, [second, first]) == {one: 3, two: 3}
    assert git.lfs_pointers(mirror, [second], exclude=[first]) == {two: 3}
    assert git.lfs_pointers(mirror, [second], exclude=["0" * 40]) == {one: 3, two: 3}  # an unknown tip excludes nothing
    assert git.lfs_pointers(mirror, []) == {}


def test_parse_lfs_pointer_takes_the_spec_and_nothing_else() -> None:
    text = _pointer(b"data").encode()
    assert parse_lfs_pointer(text) == (hashlib.sha256(b"data").hexdigest(), 4)
    assert parse_lfs_pointer(text.replace(b"\n", b"\r\n")) is None
    assert parse_lfs_pointer(text[:-1]) is None
    lines = text.splitlines(keepends=True)
    assert parse_lfs_pointer(lines[0] + lines[2] + lines[1]) is None  # keys after version are sorted
    assert parse_lfs_pointer(text + b"x" * 1024) is None
    assert parse_lfs_pointer(lines[0] + lines[1] + b"ext-0-foo sha256:" + b"0" * 64 + b"\n" + lines[2]) is None

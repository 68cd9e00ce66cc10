"""Restore and verify end to end: five daily snapshots of one customer, each restored and compared
with the truth the emulator held that day; restore to GitHub; damaged or missing data refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from backhub_pipeline.cli import main
from backhub_pipeline.restore.issue_markdown import describe_event
from resources.keyring import create_master_key
from tests.restore.conftest import CUSTOMER, History, reachable_objects

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("restore")]


def _git_refs(git_dir: Path) -> dict[str, str]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "for-each-ref", "--format=%(objectname) %(refname)"],
                         check=True, capture_output=True, text=True).stdout
    return {ref: sha for sha, ref in (line.split(" ", 1) for line in out.splitlines())}


def _fsck(git_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", f"--git-dir={git_dir}", "fsck", "--full", "--no-dangling"],
                          capture_output=True, text=True)


def _restore(*args: str) -> int:
    return main(["restore", "--quiet", *args])


def test_each_day_restores_to_exactly_that_days_truth(history: History, tmp_path: Path) -> None:
    assert len({day.date for day in history.days}) == 5
    # Activity between the days changed what each day must restore to.
    first, last = history.days[0].state["repositories"], history.days[-1].state["repositories"]
    assert any(first[name]["refs"] != repo["refs"] for name, repo in last.items() if name in first)
    assert history.days[0].objects != history.days[-1].objects
    for day in history.days:
        target = tmp_path / day.date
        assert _restore("--customer", CUSTOMER, "--date", day.date, "--to", str(target)) == 0
        for repo in day.state["repositories"].values():
            owner, name = repo["full_name"].split("/")
            bare = target / owner / f"{name}.git"
            assert _git_refs(bare) == repo["refs"], (day.date, repo["full_name"])
            assert reachable_objects(bare) == day.objects.get(repo["full_name"], set()), (day.date, repo["full_name"])
            assert _fsck(bare).returncode == 0, _fsck(bare).stderr
            wiki = target / owner / name / "wiki.git"
            if repo["wiki"]["state"] == "populated":
                assert _git_refs(wiki) == repo["wiki"]["refs"]
                assert reachable_objects(wiki) == day.objects[f"{repo['full_name']}.wiki"]
                assert _fsck(wiki).returncode == 0
            else:
                assert not wiki.exists()
            issues_dir = target / owner / name / "issues"
            restored = {int(p.stem): json.loads(p.read_text()) for p in issues_dir.glob("*.json")}
            assert sorted(restored) == sorted(int(n) for n in repo["issues"]), (day.date, repo["full_name"])
            for number, counts in repo["issues"].items():
                record = restored[int(number)]
                truth = day.issues[repo["full_name"]][int(number)]
                for key in ("id", "title", "body", "state", "updated_at", "comments", "labels", "milestone"):
                    assert record["issue"][key] == truth[key], (day.date, repo["full_name"], number, key)
                assert ("pull" in record) == counts["pull_request"]
                assert len(record["comments"]) == counts["comments"]
                assert len(record["reviews"]) == counts["reviews"]
                assert len(record["review_comments"]) == counts["review_comments"]
                assert [(c["id"], c["body"], c["updated_at"]) for c in record["comments"]] == [
                    (c["id"], c["body"], c["updated_at"]) for c in sorted(
                        day.comments[repo["full_name"]].get(int(number), []), key=lambda c: c["id"])]
                page = (issues_dir / f"{number}.md").read_text()
                assert truth["title"] in page
                assert page.count("### Comment by") == counts["comments"]
            assert json.loads((target / owner / name / "labels.json").read_text())
        assert json.loads((target / "backhub-restore.json").read_text())["date"] == day.date


PULL_DETAIL_FIELDS = ("commits", "additions", "deletions", "changed_files", "merged", "merged_by", "merge_commit_sha")


def test_each_day_restores_that_days_issue_events_pull_commits_and_pull_details(history: History, tmp_path: Path) -> None:
    """Issue events (GitHub's per-issue list, oldest first), pull-request commit lists and detail fields
    restored from each day's snapshot equal what the emulator served that day; the Markdown timeline
    says each event in order and lists the commits."""
    def events_of(day, full_name: str) -> dict[int, list[dict]]:
        return {n: evs for n, evs in day.events[full_name].items()}

    changed = [full_name for full_name in history.days[0].events
               if events_of(history.days[0], full_name) != events_of(history.days[-1], full_name)]
    assert changed, "no issue event happened in five days: the test would not see incremental reads"
    kinds = {e["event"] for day in history.days for repo in day.events.values() for evs in repo.values() for e in evs}
    assert {"labeled", "assigned", "closed", "merged", "renamed", "referenced"} <= kinds, kinds
    for day in history.days:
        target = tmp_path / day.date
        assert _restore("--customer", CUSTOMER, "--date", day.date, "--to", str(target)) == 0
        for full_name, per_issue in day.events.items():
            owner, name = full_name.split("/")
            issues_dir = target / owner / name / "issues"
            for number, events in per_issue.items():
                record = json.loads((issues_dir / f"{number}.json").read_text())
                assert record["events"] == events, (day.date, full_name, number)
                page = (issues_dir / f"{number}.md").read_text()
                said = [line for line in page.splitlines() if line.startswith("*@") and " on " in line]
                assert said == [f"*{describe_event(e)} on {e['created_at']}*" for e in events], (day.date, number)
                if number in day.pulls[full_name]:
                    truth = day.pulls[full_name][number]
                    assert {k: record["pull"][k] for k in PULL_DETAIL_FIELDS} == {k: truth[k] for k in PULL_DETAIL_FIELDS}
                    # the branches by name and commit (the repository object inside them is as of the capture)
                    assert [(record["pull"][side]["ref"], record["pull"][side]["sha"]) for side in ("head", "base")] == [
                        (truth[side]["ref"], truth[side]["sha"]) for side in ("head", "base")]
                    assert record["commits"] == day.pull_commits[full_name][number], (day.date, full_name, number)
                    assert len(record["commits"]) == truth["commits"] >= 1
                    for commit in record["commits"]:
                        assert f"`{commit['sha'][:12]}`" in page
                else:
                    assert "commits" not in record


def test_one_repository_restores_alone_and_an_existing_folder_is_refused_unless_forced(
        history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = history.days[-1]
    target = tmp_path / "one"
    args = ["--customer", CUSTOMER, "--date", day.date, "--repo", "zoe-dev/notes", "--to", str(target)]
    assert _restore(*args) == 0
    assert sorted(p.name for p in (target / "zoe-dev").iterdir()) == ["notes", "notes.git"]
    assert (target / "zoe-dev" / "notes" / "wiki.git" / "HEAD").is_file()
    (target / "mine.txt").write_text("keep me")
    capsys.readouterr()
    assert _restore(*args) == 2
    assert "already exists" in capsys.readouterr().err
    assert (target / "mine.txt").read_text() == "keep me"
    assert _restore(*args, "--force") == 0
    assert not (target / "mine.txt").exists()
    assert _git_refs(target / "zoe-dev" / "notes.git") == day.state["repositories"]["notes"]["refs"]
    assert [p.name for p in tmp_path.iterdir()] == ["one"]  # no staging or replaced copies left behind


def test_snapshots_lists_every_day_with_sizes_and_check_status(history: History, capsys) -> None:
    assert main(["snapshots", "--customer", CUSTOMER, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["date"] for item in listed] == [day.date for day in history.days]
    for item in listed:
        assert item["assets"] == ["inventory", "issues", "repositories", "wikis"]
        assert item["repositories"] == len(history.days[0].state["repositories"])
        assert item["logical_bytes"] > item["new_bytes"] > 0
        assert item["stored_bytes"] >= item["new_bytes"]
        assert item["checks"] == "10 passed"
    assert listed[1]["new_bytes"] < listed[0]["new_bytes"] / 2  # later days are increments


def test_verify_read_data_rebuilds_every_chain_and_passes(history: History, capsys) -> None:
    assert main(["verify", "--quiet", "--customer", CUSTOMER, "--read-data", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["problems"] == []
    assert result["dates"] == [day.date for day in history.days]
    assert result["chains_restored"] >= 5 * 3  # two repositories and a wiki each day


def test_restore_to_github_recreates_refs_labels_milestones_and_issues_in_order(history: History) -> None:
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import clients

    day = history.days[-1]
    source = day.state["repositories"]["notes"]
    assert _restore("--customer", CUSTOMER, "--date", day.date, "--repo", "zoe-dev/notes", "--to-github",
                    "--as", "notes-restored") == 0
    truth = next(acc for name, acc in history.emulator.state()["accounts"].items() if name.lower() == CUSTOMER)
    new = truth["repositories"]["notes-restored"]
    assert new["refs"] == {ref: sha for ref, sha in source["refs"].items() if not ref.startswith("refs/pull/")}
    assert new["labels"] == source["labels"]
    assert new["milestones"] == source["milestones"]
    client = clients(Settings.from_env()).github().installation_for(CUSTOMER)
    issues = sorted(client.issues("zoe-dev/notes-restored"), key=lambda issue: issue["number"])
    originals = day.issues["zoe-dev/notes"]
    assert [issue["title"] for issue in issues] == [originals[n]["title"] for n in sorted(originals)]
    for issue, number in zip(issues, sorted(originals), strict=True):
        original = originals[number]
        assert f"originally {'pull request' if source['issues'][str(number)]['pull_request'] else 'issue'} #{number}" \
            in issue["body"]
        assert f"@{original['user']['login']}" in issue["body"] and original["created_at"] in issue["body"]
        assert issue["state"] == original["state"]
        expected = sum(source["issues"][str(number)][key] for key in ("comments", "review_comments")) + len(
            [r for r in _reviews(history, number)])
        assert issue["comments"] == expected, number
        comments = list(client.paginate(f"/repos/zoe-dev/notes-restored/issues/{issue['number']}/comments"))
        bodies = [c["body"] for c in comments]
        for comment in day.comments["zoe-dev/notes"].get(number, []):
            assert any(comment["body"] in body and f"@{comment['user']['login']}" in body for body in bodies)
    # The default branch is the original's; a pull request whose two branches were restored is a pull
    # request again, between the same branches; the others are issues saying what they were.
    assert client.get_json("/repos/zoe-dev/notes-restored")["default_branch"] == source["default_branch"]
    pulls = {int(p["number"]): p for p in client.paginate("/repos/zoe-dev/notes-restored/pulls", {"state": "all"})}
    restored_numbers = {int(issue["number"]): number for issue, number in zip(issues, sorted(originals), strict=True)}
    recreatable = [n for n in sorted(originals) if source["issues"][str(n)]["pull_request"]
                   and f"refs/heads/{_pull(client, n)['head']['ref']}" in new["refs"]]
    assert recreatable and len(pulls) >= 1
    for new_number, pull in pulls.items():
        original = _pull(client, restored_numbers[new_number])
        assert (pull["head"]["ref"], pull["base"]["ref"]) == (original["head"]["ref"], original["base"]["ref"])
        assert pull["state"] == original["state"] and pull["title"] == original["title"]
    # The wiki waits for its repository (GitHub makes it when a first page is saved), then --resume pushes it.
    assert new["wiki"]["state"] == "never_created"
    history.emulator.control("POST", "wiki/create", json={"full_name": "zoe-dev/notes-restored"})
    assert _restore("--customer", CUSTOMER, "--date", day.date, "--repo", "zoe-dev/notes", "--to-github",
                    "--as", "notes-restored", "--resume") == 0
    truth = next(acc for name, acc in history.emulator.state()["accounts"].items() if name.lower() == CUSTOMER)
    assert truth["repositories"]["notes-restored"]["wiki"]["refs"] == source["wiki"]["refs"]
    assert len(list(client.issues("zoe-dev/notes-restored"))) == len(originals)  # resumed, not duplicated


def _pull(client, number: int) -> dict:
    return client.get_json(f"/repos/zoe-dev/notes/pulls/{number}")


def _reviews(history: History, number: int) -> list[dict]:
    from backhub_pipeline.restore.snapshot import Snapshot
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import clients

    store = clients(Settings.from_env()).store
    snapshot = Snapshot(store, CUSTOMER, history.days[-1].date)
    from assets.bodies import read_records

    records = {r["number"]: r for r in read_records(store, CUSTOMER, snapshot.repository("zoe-dev/notes").issues)}
    return records[number]["reviews"]


def test_restore_to_github_refuses_an_existing_repository_and_resumes_an_interrupted_one_without_duplicates(
        history: History, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import clients
    from resources.errors import GitHubUnavailableError
    from resources.github import InstallationClient

    day = history.days[-1]
    args = ["--customer", CUSTOMER, "--date", day.date, "--repo", "zoe-dev/dotfiles", "--to-github"]
    capsys.readouterr()
    assert _restore(*args) == 2  # refused, a usage error: the original still exists
    assert "already exists" in capsys.readouterr().err

    send = InstallationClient.send_json
    calls = []

    def dropped_after_a_few_writes(self, verb, path, body=None):
        calls.append(path)
        if len(calls) == 6:
            raise GitHubUnavailableError(f"{verb} {path}: connection reset (injected)")
        return send(self, verb, path, body)

    monkeypatch.setattr(InstallationClient, "send_json", dropped_after_a_few_writes)
    assert _restore(*args, "--as", "dotfiles-copy") == 1
    monkeypatch.setattr(InstallationClient, "send_json", send)
    assert "injected" in capsys.readouterr().err
    assert _restore(*args, "--as", "dotfiles-copy") == 2  # refused: not without --resume
    assert _restore(*args, "--as", "dotfiles-copy", "--resume") == 0
    assert _restore(*args, "--as", "dotfiles-clean") == 0

    client = clients(Settings.from_env()).github().installation_for(CUSTOMER)

    def shape(name: str) -> list[tuple[int, str, str, int]]:
        return sorted((i["number"], i["title"], i["state"], i["comments"]) for i in client.issues(f"zoe-dev/{name}"))

    assert shape("dotfiles-copy") == shape("dotfiles-clean")
    assert len(shape("dotfiles-copy")) == len(day.issues["zoe-dev/dotfiles"])
    truth = next(acc for name, acc in history.emulator.state()["accounts"].items() if name.lower() == CUSTOMER)
    assert truth["repositories"]["dotfiles-copy"]["refs"] == truth["repositories"]["dotfiles-clean"]["refs"]


def _blob_key(history: History) -> tuple[str, str]:
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import clients

    store = clients(Settings.from_env()).store
    manifest = store.read_manifest(CUSTOMER, history.days[-1].date, "repositories")
    entry = next(e for e in manifest.body["repositories"].values() if e["full_name"] == "zoe-dev/notes")
    blob = entry["chain"][-1]["blob"]
    bucket = Settings.from_env().store_url.removeprefix("s3://").split("/", 1)[0]
    return bucket, f"store/customers/{CUSTOMER}/blobs/{blob[:2]}/{blob}"


def test_a_corrupted_blob_is_named_and_leaves_no_restore(history: History, tmp_path: Path, capsys) -> None:
    from backhub_pipeline.settings import Settings

    s3 = boto3.client("s3", endpoint_url=Settings.from_env().s3_endpoint_url)
    bucket, key = _blob_key(history)
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(damaged))
    blob = key.rsplit("/", 1)[1]
    try:
        capsys.readouterr()
        assert main(["verify", "--quiet", "--customer", CUSTOMER, "--date", history.days[-1].date, "--read-data"]) == 1
        out = capsys.readouterr().out
        assert blob in out and "PROBLEM" in out
        target = tmp_path / "restore"
        assert _restore("--customer", CUSTOMER, "--date", history.days[-1].date, "--to", str(target)) == 1
        err = capsys.readouterr().err
        assert blob in err and "zoe-dev/notes" in err
        assert list(tmp_path.iterdir()) == []
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)


def test_a_missing_snapshot_is_named_and_leaves_nothing(history: History, tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert _restore("--customer", CUSTOMER, "--date", "2001-01-01", "--to", str(tmp_path / "r")) == 2
    assert "no snapshot of zoe-dev on 2001-01-01 (available: " in capsys.readouterr().err
    assert main(["verify", "--quiet", "--customer", CUSTOMER, "--date", "2001-01-01"]) == 2
    assert "no snapshot of zoe-dev on 2001-01-01 (available: " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_master_key_is_named_and_leaves_nothing(history: History, tmp_path: Path, capsys,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    create_master_key((tmp_path / "other-master.json").as_uri())  # another installation's key
    monkeypatch.setenv("BACKHUB_MASTER_KEY_URI", (tmp_path / "other-master.json").as_uri())
    target = tmp_path / "r"
    capsys.readouterr()
    # A configuration error (exit 2), not damage: the operator points BACKHUB_MASTER_KEY_URI elsewhere.
    assert _restore("--customer", CUSTOMER, "--date", history.days[-1].date, "--to", str(target)) == 2
    err = capsys.readouterr().err
    assert "BACKHUB_MASTER_KEY_URI" in err and CUSTOMER in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-master.json"]


def test_restore_and_verify_are_recorded_in_the_audit_log(history: History, tmp_path: Path) -> None:
    from backhub_pipeline.settings import Settings
    from resources.audit import AuditLog

    log = AuditLog.from_url(Settings.from_env().audit_url)
    before = sum(1 for _ in log.records())
    date = history.days[-1].date
    assert _restore("--customer", CUSTOMER, "--date", date, "--to", str(tmp_path / "audited")) == 0
    assert main(["verify", "--quiet", "--customer", CUSTOMER, "--date", date]) == 0

    new = list(log.records())[before:]
    assert {(r.action, r.outcome, r.customer) for r in new} >= {("restore", "ok", CUSTOMER), ("verify", "ok", CUSTOMER)}
    assert all(date in (r.snapshot or "") for r in new if r.action in ("restore", "verify"))
    assert log.verify().ok


def test_restore_job_and_verify_job_run_from_run_config(history: History, tmp_path: Path) -> None:
    import dagster as dg

    from backhub_pipeline.definitions import defs

    definitions = defs()
    day = history.days[-1].date
    with dg.DagsterInstance.get() as instance:
        verify = definitions.resolve_job_def("verify_job").execute_in_process(
            instance=instance, run_config={"ops": {"verify_snapshots_op": {"config": {
                "customer": CUSTOMER, "date": day, "read_data": False}}}})
        assert verify.success
        restore = definitions.resolve_job_def("restore_job").execute_in_process(
            instance=instance, run_config={"ops": {"restore_snapshot_op": {"config": {
                "customer": CUSTOMER, "date": day, "repository": "zoe-dev/notes", "target": str(tmp_path / "job")}}}})
        assert restore.success
        missing = definitions.resolve_job_def("restore_job").execute_in_process(
            instance=instance, raise_on_error=False, run_config={"ops": {"restore_snapshot_op": {"config": {
                "customer": CUSTOMER, "date": "2001-01-01", "target": str(tmp_path / "none")}}}})
        assert not missing.success
        relative = definitions.resolve_job_def("restore_job").execute_in_process(
            instance=instance, raise_on_error=False, run_config={"ops": {"restore_snapshot_op": {"config": {
                "customer": CUSTOMER, "target": "restored"}}}})
        assert not relative.success
        assert "target must be an absolute folder" in relative.get_step_failure_events()[0].step_failure_data.error.message
        latest = definitions.resolve_job_def("restore_job").execute_in_process(  # no date: the latest snapshot
            instance=instance, run_config={"ops": {"restore_snapshot_op": {"config": {
                "customer": CUSTOMER.upper(), "repository": "zoe-dev/notes", "target": str(tmp_path / "latest")}}}})
        assert latest.success
    assert (tmp_path / "job" / "zoe-dev" / "notes.git").is_dir()
    assert (tmp_path / "latest" / "zoe-dev" / "notes.git").is_dir()
    assert not (tmp_path / "none").exists()

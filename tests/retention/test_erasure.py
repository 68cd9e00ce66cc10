"""Erasure: after it, nothing of the customer is left readable; another customer is untouched."""

import json
import os
import signal
import subprocess
import sys

import dagster as dg
import pytest

from assets.partitions import customer_partitions
from backhub_pipeline.erasure import EraseConfig, erase_customer_job, erase_run_config
from resources.errors import BackhubError
from resources.keyring import Keyring
from resources.object_storage import FileStorage
from resources.snapshot_store import SnapshotStore
from tests.installation import REPO_ROOT
from tests.retention.conftest import days_back


def _erase(local, customer, confirm=None):
    config = erase_run_config(customer)
    if confirm is not None:
        config = dg.RunConfig(ops={"erase_customer_op": EraseConfig(customer=customer, confirm=confirm)})
    return erase_customer_job.execute_in_process(instance=local.instance, run_config=config,
                                                 resources=local.resources(), raise_on_error=False)


def test_erasure_leaves_nothing_of_the_customer_and_old_copies_no_longer_decrypt(local) -> None:
    dates = days_back(2)
    for customer in ("acme-corp", "zoe-dev"):
        for date in dates:
            local.snapshot(customer, date)
    store = local.store()
    stolen_id = store.read_manifest("acme-corp", dates[0], "issues").blobs[1]
    stolen = store.storage.get(f"customers/acme-corp/blobs/{stolen_id[:2]}/{stolen_id}")  # a copy taken before
    cache = local.root / "git-cache" / "acme-corp" / "acme-corp" / "widgets.git"
    cache.mkdir(parents=True)
    (cache / "HEAD").write_text("ref: refs/heads/main\n")

    result = _erase(local, "acme-corp")
    assert result.success

    everything = sorted(p.relative_to(local.root).as_posix() for p in local.root.rglob("*") if p.is_file()
                        and p.relative_to(local.root).parts[0] in {"store", "keyring", "git-cache"})
    assert [path for path in everything if "acme-corp" in path] == ["keyring/acme-corp"]
    tombstone = json.loads((local.root / "keyring" / "acme-corp").read_text())
    assert "keysets" not in tombstone and "shredded_at" in tombstone  # names the customer, holds no key
    # The copy taken before erasure, put back where it was, no longer decrypts: the key is gone.
    fresh = SnapshotStore(FileStorage(local.root / "store"),
                          Keyring.from_urls((local.root / "keyring").as_uri(), (local.root / "master-keyset.json").as_uri()))
    fresh.storage.put(f"customers/acme-corp/blobs/{stolen_id[:2]}/{stolen_id}", stolen)
    with pytest.raises(BackhubError, match="shredded"):
        fresh.read_blob("acme-corp", stolen_id)
    # The other customer is untouched.
    for date in dates:
        assert fresh.verify("zoe-dev", date, read_data=True).ok
    assert local.instance.get_dynamic_partitions(customer_partitions.name) == ["zoe-dev"]
    actions = [(r.action, r.outcome, r.customer) for r in local.audit.records()]
    assert actions == [("erase", "started", "acme-corp"), ("key.destroy", "ok", "acme-corp"),
                       ("erase", "ok", "acme-corp")]
    assert local.instance.get_run_by_id(result.run_id) is not None  # the erasure is in the run history


def test_erasure_refuses_a_mistyped_confirmation_or_an_unknown_customer(local) -> None:
    local.snapshot("acme-corp", days_back(1)[0])
    assert not _erase(local, "acme-corp", confirm="acme").success
    assert not _erase(local, "acme-crop").success
    assert local.store().verify("acme-corp", days_back(1)[0]).ok
    assert list(local.audit.records()) == []


def _cli_environment(local) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(local.root / "dagster"),
        "BACKHUB_STORE_URL": (local.root / "store").as_uri(),
        "BACKHUB_KEYRING_URL": (local.root / "keyring").as_uri(),
        "BACKHUB_MASTER_KEY_URI": (local.root / "master-keyset.json").as_uri(),
        "BACKHUB_AUDIT_URL": (local.root / "audit").as_uri(),
        "BACKHUB_GIT_CACHE_DIR": str(local.root / "git-cache"),
    }


def test_cli_erases_with_yes_and_refuses_without_it(local, monkeypatch, capsys) -> None:
    from backhub_pipeline import cli

    local.snapshot("acme-corp", days_back(1)[0])
    for name, value in _cli_environment(local).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - not a terminal
    assert cli.main(["customers", "erase", "acme-corp"]) == 2  # usage: no --yes
    assert "--yes" in capsys.readouterr().err
    assert local.store().list_snapshots("acme-corp")

    assert cli.main(["customers", "erase", "acme-corp", "--yes"]) == 0
    assert "erased acme-corp" in capsys.readouterr().out
    assert local.store().list_customers() == []


def test_a_killed_erasure_removed_the_plaintext_first_is_listed_and_a_rerun_finishes_it(
    local, monkeypatch, capsys
) -> None:
    from backhub_pipeline import cli

    for date in days_back(2):
        local.snapshot("acme-corp", date)
    local.snapshot("zoe-dev", days_back(1)[0])
    cache = local.root / "git-cache" / "acme-corp" / "acme-corp" / "widgets.git"
    cache.mkdir(parents=True)
    (cache / "HEAD").write_text("ref: refs/heads/main\n")
    environment = _cli_environment(local)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    local.instance.add_dynamic_partitions(customer_partitions.name, ["acme-corp"])

    process = subprocess.Popen([sys.executable, "-m", "tests.retention.erase_process", "acme-corp"],
                               env={**os.environ, **environment}, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "BLOCKED"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    store = local.store()
    assert not (local.root / "git-cache" / "acme-corp").exists()  # the plaintext went first
    assert store.keyring.is_shredded("acme-corp")
    assert store.storage.list("customers/acme-corp/blobs/"), "nothing left to finish: the kill came too late"
    capsys.readouterr()
    assert cli.main(["customers"]) == 1
    listed = capsys.readouterr()
    assert "acme-corp  ERASURE UNFINISHED" in listed.out and "zoe-dev" in listed.out
    assert "backhub customers erase acme-corp --yes" in listed.err

    assert cli.main(["customers", "erase", "acme-corp", "--yes"]) == 0
    assert "finishing the erasure of acme-corp" in capsys.readouterr().out
    assert cli.main(["customers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"customers": ["zoe-dev"], "unfinished_erasures": {}}
    assert not list(store.storage.list("customers/acme-corp/"))
    assert "acme-corp" not in local.instance.get_dynamic_partitions(customer_partitions.name)

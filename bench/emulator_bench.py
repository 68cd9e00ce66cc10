"""How fast the GitHub emulator seeds and serves: ``python -m bench.emulator_bench``.

Measures, on loopback only, each number from a fresh process with a fresh data directory:

- seeding: wall time from starting ``python -m github_emulator --scale S`` until its ``--info`` file appears,
  for tiny, small and medium;
- requests per second for an authenticated ``GET /repos/{o}/{r}`` and for a full page
  ``GET /repos/{o}/{r}/issues?per_page=100``, from 1 and from 4 client threads, each thread with its
  own keep-alive session, for a bounded time per measurement;
- ``git clone`` (smart HTTP, authenticated as ``x-access-token``) of the largest medium repository.

The numbers are printed and written to the emulator section of ``bench/README.md``. The client runs in
the same machine as the server, so on a 2-core machine the two compete for the cores: the numbers are a
floor for the emulator, not a ceiling.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import requests

from github_emulator.process import EmulatorProcess, start_emulator

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
START = "<!-- emulator-bench:start -->"
END = "<!-- emulator-bench:end -->"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
SCALES = ("tiny", "small", "medium")


def start(scale: str, workdir: Path, timeout: float) -> tuple[EmulatorProcess, float]:
    """Start an emulator with a fresh data directory; return it and the seconds until its info file."""
    data = workdir / f"data-{scale}"
    shutil.rmtree(data, ignore_errors=True)
    emulator = start_emulator(
        data, info_path=workdir / f"info-{scale}.json", log_path=workdir / f"emulator-{scale}.log",
        scale=scale, rate_limit=10**9, timeout=timeout,  # a budget no measurement exhausts
    )  # fmt: skip
    return emulator, emulator.seconds_to_start


def app_jwt(info: dict[str, Any]) -> str:
    now = int(time.time())
    key = Path(info["private_key_path"]).read_bytes()
    return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(info["app_id"])}, key, algorithm="RS256")


def installation_token(emulator: EmulatorProcess, installation_id: int) -> str:
    response = requests.post(
        f"{emulator.api_url}/app/installations/{installation_id}/access_tokens",
        headers={**HEADERS, "Authorization": f"Bearer {app_jwt(emulator.info)}"},
        timeout=30,
        verify=_verify(emulator),
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _verify(emulator: EmulatorProcess) -> str | bool:
    return str(emulator.info.get("ca_cert") or True) if emulator.api_url.startswith("https") else True


def repositories(emulator: EmulatorProcess) -> list[tuple[dict[str, Any], str]]:
    """Every repository of every installation, with a token of its installation."""
    found: list[tuple[dict[str, Any], str]] = []
    for inst in emulator.info["installations"]:
        token = installation_token(emulator, inst["id"])
        url: str | None = f"{emulator.api_url}/installation/repositories?per_page=100"
        while url:
            response = requests.get(url, headers={**HEADERS, "Authorization": f"token {token}"}, timeout=60)
            response.raise_for_status()
            found += [(repo, token) for repo in response.json()["repositories"]]
            url = response.links.get("next", {}).get("url")
    return found


def throughput(url: str, token: str, threads: int, seconds: float) -> tuple[float, int, float]:
    """Requests per second over ``seconds`` from ``threads`` keep-alive clients; errors; mean ms."""
    stop_at = time.perf_counter() + seconds
    counts = [0] * threads
    errors = [0] * threads
    busy = [0.0] * threads

    def client(index: int) -> None:
        with requests.Session() as session:
            session.headers.update({**HEADERS, "Authorization": f"token {token}"})
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                response = session.get(url, timeout=30)
                response.content  # noqa: B018 - read the whole body, as a client would
                busy[index] += time.perf_counter() - began
                if response.status_code == 200:
                    counts[index] += 1
                else:
                    errors[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    done = sum(counts) + sum(errors)
    return sum(counts) / elapsed, sum(errors), 1000 * sum(busy) / max(done, 1)


def clone(emulator: EmulatorProcess, repo: dict[str, Any], token: str, workdir: Path) -> tuple[float, int]:
    """Seconds to ``git clone`` a repository over smart HTTP, and the clone's size on disk in bytes."""
    target = workdir / f"clone-{repo['name']}"
    shutil.rmtree(target, ignore_errors=True)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    url = repo.get("clone_url") or f"{emulator.info['git_url'].rstrip('/')}/{repo['full_name']}.git"
    started = time.perf_counter()
    subprocess.run(
        [
            "git",
            "-c",
            f"http.extraHeader=Authorization: Basic {basic}",
            "clone",
            "--quiet",
            "--",
            url,
            str(target),
        ],
        check=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return elapsed, size


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1).strip() if model else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_readme(section: str) -> None:
    """Replace the emulator section of bench/README.md, leaving every other section as it is."""
    block = f"{START}\n{section.rstrip()}\n{END}\n"
    text = (
        README.read_text()
        if README.exists()
        else "# Benchmarks\n\nNumbers measured by `bench/`, newest run only.\n"
    )
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    README.write_text(text)


def run(seconds: float, scales: tuple[str, ...], seed_timeout: float, say: Callable[[str], None]) -> str:
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="emulator-bench-") as tmp:
        workdir = Path(tmp)
        seeded: dict[str, float] = {}
        kept: EmulatorProcess | None = None
        for scale in scales:
            emulator, seconds_to_seed = start(scale, workdir, seed_timeout)
            seeded[scale] = seconds_to_seed
            say(f"seed {scale:<6} {seconds_to_seed:8.2f} s")
            if scale == scales[-1]:
                kept = emulator
            else:
                emulator.stop()
        assert kept is not None
        try:
            repos = repositories(kept)
            busiest, token = max(repos, key=lambda pair: pair[0].get("open_issues_count", 0))
            largest, largest_token = max(repos, key=lambda pair: pair[0].get("size", 0))
            repo_url = f"{kept.api_url}/repos/{busiest['full_name']}"
            results: list[tuple[str, int, float, int, float]] = []
            for label, url in (
                ("GET /repos/{o}/{r}", repo_url),
                ("GET /repos/{o}/{r}/issues?per_page=100", f"{repo_url}/issues?per_page=100&state=all"),
            ):
                for threads in (1, 4):
                    rps, errors, mean_ms = throughput(url, token, threads, seconds)
                    results.append((label, threads, rps, errors, mean_ms))
                    say(
                        f"{label:<42} {threads} thread(s): {rps:8.1f} req/s, mean {mean_ms:6.1f} ms, {errors} errors"
                    )
            clone_seconds, clone_bytes = clone(kept, largest, largest_token, workdir)
            say(f"git clone {largest['full_name']} ({clone_bytes / 2**20:.2f} MiB): {clone_seconds:.2f} s")
        finally:
            kept.stop()

    today = dt.date.today().isoformat()
    rows.append("## GitHub emulator (`python -m bench.emulator_bench`)")
    rows.append("")
    rows.append(f"Measured {today} on {machine()}; client and emulator share the machine over loopback.")
    rows.append("")
    rows.append("| seeding (fresh data dir until the info file appears) | seconds |")
    rows.append("|---|---:|")
    rows += [f"| `--scale {scale}` | {value:.2f} |" for scale, value in seeded.items()]
    rows.append("")
    rows.append(
        f"Requests per second, `{scales[-1]}` seed, keep-alive, {seconds:g} s per row, "
        f"repository `{busiest['full_name']}` ({busiest.get('open_issues_count', '?')} open issues):"
    )
    rows.append("")
    rows.append("| request | client threads | req/s | mean latency ms | errors |")
    rows.append("|---|---:|---:|---:|---:|")
    rows += [
        f"| `{label}` | {threads} | {rps:.1f} | {ms:.1f} | {errors} |"
        for label, threads, rps, errors, ms in results
    ]
    rows.append("")
    rows.append(
        f"`git clone` of the largest `{scales[-1]}` repository, `{largest['full_name']}` "
        f"({clone_bytes / 2**20:.2f} MiB on disk after clone): {clone_seconds:.2f} s."
    )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.emulator_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput measurement")
    parser.add_argument("--scales", default=",".join(SCALES), help="comma-separated; the last is measured")
    parser.add_argument("--seed-timeout", type=float, default=900.0, help="give up seeding after this long")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    args = parser.parse_args(argv)
    scales = tuple(s for s in args.scales.split(",") if s)
    section = run(args.seconds, scales, args.seed_timeout, say=lambda line: print(line, flush=True))
    print()
    print(section)
    if not args.no_readme:
        write_readme(section)
        print(f"wrote the emulator section of {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

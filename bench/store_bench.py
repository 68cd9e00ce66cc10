"""Snapshot store benchmark: throughput against a plain boto3 transfer, and peak RSS for a 1 GiB blob.

    .venv/bin/python -m bench.store_bench [--size-mib 1024] [--workdir DIR]

Starts its own moto server (S3 + KMS over HTTP on loopback), writes a random-but-compressible file,
then times, each in a fresh child process so every peak RSS is that of the process doing the work:

    plain-up    boto3 ``upload_file`` of the file (s3transfer: multipart, threads)
    store       ``SnapshotStore.put_blob_file`` (HMAC + zstd + Tink streaming AEAD + multipart upload)
    plain-down  boto3 ``get_object`` of the plain object streamed to a file (one GET, like ``read``)
    read        ``SnapshotStore.copy_blob_to`` (download + decrypt + decompress + re-hash) to a file
    local-store, local-read   the same two on a ``file://`` store on local disk: the pipeline's own
                cost (hash + zstd + Tink) without a network or a server in the way

and prints the ratios (store / plain) and peak RSS. Results go in bench/README.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUCKET = "bench-store"
KEYS = "bench-keys"


def make_data(path: Path, size: int) -> None:
    """1 MiB blocks: half fresh random bytes, half text-like repetition (zstd shrinks it to ~55%)."""
    text = b"".join(b"line %06d of a source file that compresses well\n" % i for i in range(20000))
    with open(path, "wb") as f:
        written = 0
        i = 0
        while written < size:
            block = os.urandom(512 * 1024) + text[i % 1000 : i % 1000 + 512 * 1024]
            block = block[: size - written]
            f.write(block)
            written += len(block)
            i += 1


def child(args: argparse.Namespace) -> None:
    """One measured operation; prints JSON with seconds, baseline and peak RSS (MiB)."""
    import boto3

    from resources.keyring import Keyring
    from resources.snapshot_store import SnapshotStore

    endpoint = os.environ["BENCH_ENDPOINT"]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    keyring = Keyring.from_urls(f"s3://{KEYS}/keyring", os.environ["BENCH_KMS"], s3_endpoint_url=endpoint)
    store = SnapshotStore.from_urls(f"s3://{BUCKET}/store", keyring, s3_endpoint_url=endpoint)
    keyring.customer_keys("bench", create=True)
    local = SnapshotStore.from_urls(Path(os.environ["BENCH_LOCAL"]).as_uri(), keyring)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result: dict[str, object] = {}
    if args.child == "plain-up":
        s3.upload_file(args.path, BUCKET, "plain/blob")
    elif args.child == "plain-down":
        body = s3.get_object(Bucket=BUCKET, Key="plain/blob")["Body"]
        with open(args.out, "wb") as f:
            shutil.copyfileobj(body, f, 1024 * 1024)
    elif args.child == "store":
        ref = store.put_blob_file("bench", args.path)
        result.update(blob_id=ref.id, stored_size=ref.stored_size, new=ref.new)
    elif args.child == "read":
        result["bytes"] = store.copy_blob_to("bench", args.blob_id, args.out)
    elif args.child == "local-store":
        ref = local.put_blob_file("bench", args.path)
        result.update(blob_id=ref.id, stored_size=ref.stored_size, new=ref.new)
    elif args.child == "local-read":
        result["bytes"] = local.copy_blob_to("bench", args.blob_id, args.out)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "baseline_rss_mib": baseline, "peak_rss_mib": peak, **result}))


def run_child(env: dict[str, str], *argv: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.store_bench", *argv], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workdir")
    parser.add_argument("--child")
    parser.add_argument("--path")
    parser.add_argument("--out")
    parser.add_argument("--blob-id")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import boto3

    from tests.servers import start_moto_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    server = start_moto_server(work)
    try:
        endpoint = server.endpoint_url
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=KEYS)
        arn = boto3.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["Arn"]
        env = {
            **os.environ,
            "BENCH_ENDPOINT": endpoint,
            "BENCH_KMS": f"aws-kms://{arn}",
            "BENCH_LOCAL": str(work / "local-store"),
        }
        size = args.size_mib * 1024 * 1024
        data = work / "data.bin"
        make_data(data, size)
        results = {
            "plain-up": run_child(env, "--child", "plain-up", "--path", str(data)),
            "store": run_child(env, "--child", "store", "--path", str(data)),
        }
        results["local-store"] = run_child(env, "--child", "local-store", "--path", str(data))
        (work / "data.bin").unlink()
        results["plain-down"] = run_child(env, "--child", "plain-down", "--out", str(work / "plain.out"))
        (work / "plain.out").unlink()
        results["read"] = run_child(
            env, "--child", "read", "--out", str(work / "read.out"), "--blob-id", str(results["store"]["blob_id"])
        )
        (work / "read.out").unlink()
        results["local-read"] = run_child(
            env, "--child", "local-read", "--out", str(work / "read.out"), "--blob-id", str(results["store"]["blob_id"])
        )
        (work / "read.out").unlink()
        shutil.rmtree(work / "local-store")
    finally:
        server.stop()

    mib = size / 2**20
    print(f"store benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"blob: {mib:.0f} MiB plaintext, {int(results['store']['stored_size']) / 2**20:.0f} MiB stored")
    for name, r in results.items():
        print(f"  {name:<10} {r['seconds']:7.2f} s  {mib / float(r['seconds']):7.1f} MiB/s  "
              f"peak RSS {float(r['peak_rss_mib']):6.1f} MiB (after imports {float(r['baseline_rss_mib']):.1f})")
    up = float(results["store"]["seconds"]) / float(results["plain-up"]["seconds"])
    down = float(results["read"]["seconds"]) / float(results["plain-down"]["seconds"])
    print(f"ratio store/plain upload: {up:.2f}x   read/plain download: {down:.2f}x   (target <= 1.5x)")
    print(f"peak RSS store {float(results['store']['peak_rss_mib']):.0f} MiB, "
          f"read {float(results['read']['peak_rss_mib']):.0f} MiB   (target < 200 MB)")


if __name__ == "__main__":
    main()

"""``python -m github_emulator`` (also ``backhub emulator``): seed or load the data dir, serve until SIGTERM/SIGINT, report where via --info.

The info file is written atomically (temp + rename) only once the socket listens, so a waiting test
sees either nothing or a usable emulator. A data dir that already holds a world is loaded as it is
(``--scale``, ``--seed`` and ``--import`` then do nothing); otherwise the world is seeded into it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import discussions
from .auth import Authority, ensure_app_key
from .emulator import Emulator
from .faults import HOOK_KINDS, KINDS, Faults
from .ratelimit import RateLimiter
from .seed import seed
from .server import make_server
from .shapes import Urls
from .state import Store
from .tls import ensure_certificate, server_context
from .webhooks import Hookshot


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--data", type=Path, help="data dir (persistent world); a temporary one if omitted")
    parser.add_argument("--scale", choices=("tiny", "small", "medium"), default="tiny")
    parser.add_argument("--customers", type=int, default=0,
                        help="at least N installations: the scale's own, then customers with one small repository each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument("--import", dest="import_dir", type=Path, help="serve bare repositories found here")
    parser.add_argument("--faults", type=float, default=0.0, help="fraction of requests that fail")
    parser.add_argument("--fault-kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--rate-limit", type=int, default=5000, help="requests per hour per installation")
    parser.add_argument("--slow-seconds", type=float, default=1.5, help="delay of a 'slow' fault")
    parser.add_argument("--secondary-retry-after", type=int, default=1, help="retry-after of a secondary limit")
    parser.add_argument("--hook-url", help="the App's webhook URL (POST /_emulator/app/hook changes it)")
    parser.add_argument("--hook-secret", help="the App's webhook secret (signs X-Hub-Signature-256)")
    parser.add_argument("--hook-delay-seconds", type=float, default=2.0, help="delay of a 'delay' delivery fault")
    parser.add_argument("--info", type=Path, help="write the JSON connection info here when ready")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def load_or_seed(
    data: Path, scale: str, seed_value: int, import_dir: Path | None, customers: int = 0
) -> tuple[Store, float | None]:
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data)
    ensure_app_key(data / "app-private-key.pem")
    if store.exists():
        store.load()
        return store, None
    started = time.monotonic()
    seed(store, scale, seed_value, import_dir, customers)
    discussions.seed(store)  # after the rest, from its own random stream: the rest is what it was
    store.mark_pristine()
    return store, time.monotonic() - started


def run(args: argparse.Namespace) -> int:
    data = (args.data or Path(tempfile.mkdtemp(prefix="backhub-emulator-"))).resolve()
    data.mkdir(parents=True, exist_ok=True)
    store, seeded_in = load_or_seed(data, args.scale, args.seed, args.import_dir, args.customers)
    key_path = data / "app-private-key.pem"
    authority = Authority(key_path, store.db["app"]["id"], store.db["app"]["client_id"])
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    faults = Faults(args.faults, args.seed, kinds)
    limiter = RateLimiter(args.rate_limit)
    context = None
    ca_cert = None
    if args.tls:
        ca_cert = data / "tls-cert.pem"
        ensure_certificate(ca_cert, data / "tls-key.pem")
        context = server_context(ca_cert, data / "tls-key.pem")
    em = Emulator(
        store,
        authority,
        limiter,
        faults,
        scheme="https" if args.tls else "http",
        slow_seconds=args.slow_seconds,
        secondary_retry_after=args.secondary_retry_after,
        log=args.verbose,
    )
    em.default_rate_limit = args.rate_limit
    em.default_faults = args.faults
    em.default_fault_kinds = kinds
    em.hook_faults = Faults(0.0, args.seed, HOOK_KINDS, known=HOOK_KINDS, stream="hook-faults")
    em.hooks = Hookshot(store, em.hook_faults, store.db["app"]["id"], delay_seconds=args.hook_delay_seconds)
    store.hooks = em.hooks
    server = make_server(em, args.host, args.port, context)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"{em.scheme}://{host}:{server.server_address[1]}"
    info: dict[str, Any] = {
        "api_url": base,
        "git_url": base,
        "control_url": f"{base}/_emulator",
        "app_id": store.db["app"]["id"],
        "client_id": store.db["app"]["client_id"],
        "private_key_path": str(key_path),
        "installations": [
            {"id": inst["id"], "account": inst["account"], "type": store.user(inst["account"])["type"]}
            for inst in store.db["installations"]
        ],
        "data_dir": str(data),
        "scale": store.db["scale"],
        "seed": store.db["seed"],
        "seconds_to_seed": None if seeded_in is None else round(seeded_in, 3),
    }
    if ca_cert is not None:
        info["ca_cert"] = str(ca_cert)
    em.hooks.urls = Urls(base, base)
    em.hooks.configure(args.hook_url, args.hook_secret)
    info["app_hook"] = {"url": em.hooks.url, "secret_configured": bool(em.hooks.secret)}
    em.info = info
    em.info_path = args.info
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    em.write_info()
    print(f"backhub emulator: serving {base} (data {data})", file=sys.stderr, flush=True)
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    em.hooks.stop()
    store.save()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m github_emulator", description="Serve the GitHub emulator until stopped.")
    configure(parser)
    return run(parser.parse_args(argv))

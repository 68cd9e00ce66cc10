"""``backhub webhooks serve``: receive the GitHub App's webhook deliveries into the change log.

Runs beside the Dagster daemon (docs/deploy.md), usually behind a reverse proxy that terminates TLS.
Reads BACKHUB_WEBHOOK_SECRET (required) and BACKHUB_CHANGE_LOG_PATH (default: change-log.sqlite under
DAGSTER_HOME) through Settings. The domain is backhub_pipeline/change_feed/; this is only the glue.

Served by uvicorn, the ASGI server dagster-webserver already brings (as it brings Starlette), so the
receiver adds no dependency to a deployment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve the webhook receiver until stopped (SIGTERM/SIGINT)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (default 8787)")
    serve.add_argument("--path", default="/", help="the URL path GitHub posts to, as the proxy passes it (default /)")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies whose X-Forwarded-For/-Proto are trusted (uvicorn's option; default 127.0.0.1)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from backhub_pipeline import wiring
    from backhub_pipeline.change_feed.change_log import ChangeLog
    from backhub_pipeline.change_feed.receiver import create_app
    from backhub_pipeline.settings import Settings
    from resources.errors import ConfigurationError

    if not args.path.startswith("/"):
        raise ConfigurationError(f"--path must start with /, got {args.path!r}")
    settings = Settings.from_env()
    secret = settings.require_webhook_secret()
    log_dir = Path(settings.change_log_path).parent
    if not log_dir.is_dir():  # never made here: a typo in DAGSTER_HOME must not become a new folder
        raise ConfigurationError(f"no folder {log_dir} for the change log: set DAGSTER_HOME to the installation's "
                                 "home, or BACKHUB_CHANGE_LOG_PATH to a file in an existing folder")
    clock = wiring.clock(settings)
    change_log = ChangeLog(settings.change_log_path)

    def now() -> str:
        return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    app = create_app(change_log, secret, path=args.path, now=now)
    print(f"backhub webhooks: receiving on http://{args.host}:{args.port}{args.path} "
          f"(change log {settings.change_log_path})", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True,
                    forwarded_allow_ips=args.forwarded_allow_ips, timeout_graceful_shutdown=5)
    finally:
        change_log.close()
    return 0

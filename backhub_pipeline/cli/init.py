"""``backhub init``: a new installation's first step, the one place a master key is ever created.

With a local master key (``file://``), it creates the key file (0600) if it does not exist yet; with
AWS KMS the key already exists. Either way the keyring records which master key wraps it, so a later
run under another key stops with one line instead of onboarding customers under the wrong one. Run it
again at any time: it changes nothing on an initialised installation.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0] if __doc__ else None


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.settings import Settings
    from resources.keyring import initialise

    settings = Settings.from_env()
    initialise(settings.keyring_url, settings.master_key_uri, s3_endpoint_url=settings.s3_endpoint_url)
    wiring.audit_log(settings).append(actor="backhub init", action="key.init", outcome="ok",
                                      details={"keyring": settings.keyring_url})
    print(f"initialised: master key {settings.master_key_uri}, keyring {settings.keyring_url}")
    return 0

"""Canonical JSON: the one encoding whose bytes are stable for equal content.

Digests (the audit log's hash chain) and content-addressed blobs (an unchanged issue chunk is the
same blob as yesterday's) both depend on it.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

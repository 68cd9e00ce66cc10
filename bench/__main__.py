"""``python -m bench [NAME ...]``: run benchmarks by name; with no name, list them.

Each writes its own section of bench/README.md. They take minutes (the retention run, much longer),
which is why they are not part of ``make test``.
"""

from __future__ import annotations

import runpy
import sys

BENCHMARKS = {
    "emulator": "bench.emulator_bench",
    "store": "bench.store_bench",
    "snapshot": "bench.snapshot_bench",
    "restore": "bench.restore_bench",
    "retention": "bench.retention_bench",
    "scale": "bench.scale_bench",
    "customers": "bench.customers_bench",
    "side-by-side": "bench.side_by_side_bench",
    "crash": "bench.crash_bench",
}


def main(argv: list[str]) -> int:
    if not argv:
        print("benchmarks: " + ", ".join(BENCHMARKS) + "\nrun: python -m bench NAME [NAME ...] (see bench/README.md)")
        return 0
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in argv:
        sys.argv = [BENCHMARKS[name]]
        runpy.run_module(BENCHMARKS[name], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

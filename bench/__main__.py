"""Run every bench/bench_*.py module and write the figures to build/bench/results.json.

Each module exposes `run(quick: bool) -> list[dict]`; a result has at least name, value, unit and ratio
(the figure over its bound or over a peer measured in the same run).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
from pathlib import Path

import bench

RESULTS = Path("build/bench/results.json")


def main() -> int:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    only = set(sys.argv[1:])
    results: list[dict] = []
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        print(f"== {info.name} ({'quick' if quick else 'full'})", flush=True)
        for result in module.run(quick):
            results.append(result)
            ratio = result.get("ratio")
            extra = f"  ratio {ratio:.3f}" if isinstance(ratio, int | float) else ""
            print(f"   {result['name']}: {result['value']:,.1f} {result['unit']}{extra}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

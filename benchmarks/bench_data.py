"""Issue 2 figures: simulate a ~1,000,000-loan market (time, peak memory), write it, then load and validate it.

Run: .venv/bin/python benchmarks/bench_data.py [--replicas 9] [--format csv|parquet]
Each stage runs in a fresh child process so its peak memory (ru_maxrss) is its own.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

STAGES = {
    "simulate": "from forecasting.simulation.market import simulate_market; m = simulate_market(replicas={replicas}); "
                "n = len(m.dataset.loans)",
    "simulate+write": "from forecasting.simulation.market import simulate_market; m = simulate_market(replicas={replicas}); "
                      "m.dataset.save({out!r}, fmt={fmt!r}, extra={{'truth': m.truth}}); n = len(m.dataset.loans)",
    "load+validate": "from forecasting.data.dataset import check_dataset; ds, p = check_dataset({out!r}); "
                     "assert not p, p[:5]; n = len(ds.loans)",
}


def child(code: str) -> None:
    start = time.perf_counter()
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the benchmark's own stage code, timed in a fresh child process
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": seconds, "peak_gib": peak_gib, "loans": scope["n"]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=9)
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/market"
        print(f"{'stage':<16}{'loans':>12}{'seconds':>10}{'peak GiB':>10}   (format {args.format}, replicas {args.replicas})")
        for stage, code in STAGES.items():
            code = code.format(replicas=args.replicas, out=out, fmt=args.format)
            res = subprocess.run([sys.executable, __file__, "--child", code], capture_output=True, text=True, check=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{stage:<16}{r['loans']:>12,}{r['seconds']:>10.1f}{r['peak_gib']:>10.2f}")


if __name__ == "__main__":
    main()

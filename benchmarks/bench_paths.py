"""Issue 18's speed check: joint paths written to forecast_paths.parquet, chunk by chunk, as `npas forecast --paths`
writes them (forecast/paths.py PathsWriter: one row group per chunk of deals, float32 rates and cash, zstd).

The paths are synthetic (gamma increments; the writer's cost does not depend on where paths come from), for the
demo's deals tiled to N pools of ``--periods`` periods, chunked as the forecast chunks them (forecast/pipeline.py).
Prints the seconds and the peak resident memory of each size (each in its own process), the file size and the
time ratio between sizes; the time of one model forecast is bench_scale.py's.

Run: .venv/bin/python benchmarks/bench_paths.py [--deals 300 3000] [--paths 1000] [--periods 84]
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.forecast.paths import PathsWriter
from forecasting.forecast.pipeline import chunks
from forecasting.models.curve_forecast import CurveForecast
from forecasting.simulation.demo import demo_dataset


def tiled(n: int):
    base = demo_dataset()
    copies = -(-n // len(base.deals))
    deals = pd.concat([base.deals.assign(deal_id=base.deals["deal_id"] + f"-r{i}") for i in range(copies)]).head(n)
    return replace(base, deals=deals.reset_index(drop=True), collections=base.collections.iloc[:0], loans=None,
                   loan_collections=None, tranches=None)


def run(n: int, n_paths: int, periods: int, queue) -> None:
    data = tiled(n)
    parts = list(chunks(data, periods, n_paths))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "forecast_paths.parquet"
        writer = PathsWriter(target)
        seconds = 0.0
        for i, part in enumerate(parts):
            rng = np.random.default_rng(i)
            draws = np.minimum(np.cumsum(rng.gamma(0.6, 0.004, (n_paths, len(part.deals), periods)), axis=-1), 1.0)
            fc = CurveForecast(part.deal_ids, draws.mean(axis=0), draws, np.zeros(len(part.deals), dtype=int))
            start = time.perf_counter()
            writer.add(fc, part)
            seconds += time.perf_counter() - start
        start = time.perf_counter()
        writer.close()
        seconds += time.perf_counter() - start
        size = target.stat().st_size
    queue.put((seconds, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--periods", type=int, default=84)
    args = parser.parse_args()
    print(f"{args.paths} paths x {args.periods} periods written to forecast_paths.parquet (the paths' making not timed)")
    first = None
    for n in args.deals:
        queue = multiprocessing.get_context("spawn").Queue()
        proc = multiprocessing.get_context("spawn").Process(target=run, args=(n, args.paths, args.periods, queue))
        proc.start()
        seconds, size, peak = queue.get()
        proc.join()
        first = first or (seconds, n)
        ratio = "" if first[1] == n else f"  ({seconds / first[0]:.1f}x the time for {n / first[1]:.0f}x the pools)"
        print(f"{n:>6} pools: {seconds:6.1f} s, {size / 2**20:,.0f} MiB on disk, peak {peak:.2f} GiB{ratio}")


if __name__ == "__main__":
    main()

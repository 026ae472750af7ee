"""Random and malformed tables never crash the loader: it returns a dataset or a list of problems."""
from __future__ import annotations

import shutil

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.data.dataset import check_dataset
from forecasting.data.schema import TABLES

DEAL_COLUMNS = [c.name for c in TABLES["deals"]]
COLL_COLUMNS = [c.name for c in TABLES["collections"]]
cell = st.one_of(st.text(max_size=12), st.integers(-10**12, 10**12).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(str), st.sampled_from(["", "2021-06-30", "A-1", "nan"]))


def table(columns):
    cols = st.lists(st.sampled_from(columns + ["junk", "户均余额", ""]), min_size=0, max_size=len(columns) + 2)
    return cols.flatmap(lambda names: st.lists(st.lists(cell, min_size=len(names), max_size=len(names)), max_size=6)
                        .map(lambda rows: (names, rows)))


def write_csv(path, names, rows):
    pd.DataFrame(rows, columns=names if names else None).to_csv(path, index=False)


settings_ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(deals=table(DEAL_COLUMNS), coll=table(COLL_COLUMNS))
def test_random_tables_never_raise(tmp_path_factory, deals, coll):
    path = tmp_path_factory.mktemp("random")
    (path / "dataset.yaml").write_text("name: r\nas_of: 2025-08-31\nperiod_months: 1\n")
    write_csv(path / "deals.csv", *deals)
    write_csv(path / "collections.csv", *coll)
    dataset, problems = check_dataset(path)
    assert (dataset is None) == bool(problems)
    for p in problems:
        assert p.file in {"deals.csv", "collections.csv", "dataset.yaml"} and p.reason


@settings_
@given(blob=st.binary(max_size=400), which=st.sampled_from(["deals.csv", "collections.csv", "dataset.yaml", "tranches.csv"]))
def test_random_bytes_never_raise(tmp_path_factory, _pool_level_dir, blob, which):
    path = tmp_path_factory.mktemp("bytes") / "d"
    shutil.copytree(_pool_level_dir, path)
    (path / which).write_bytes(blob)
    dataset, problems = check_dataset(path)
    assert dataset is None or not problems


@settings_
@given(rows=st.lists(st.tuples(st.sampled_from(["A-2021-1", "B-2025-1", "nope"]), st.integers(-2, 100),
                               st.floats(-1e9, 1e12, allow_nan=False)), max_size=30))
def test_random_collections_against_real_deals(tmp_path_factory, _pool_level_dir, rows):
    path = tmp_path_factory.mktemp("coll") / "d"
    shutil.copytree(_pool_level_dir, path)
    pd.DataFrame(rows, columns=COLL_COLUMNS).to_csv(path / "collections.csv", index=False)
    dataset, problems = check_dataset(path)
    assert (dataset is None) == bool(problems)

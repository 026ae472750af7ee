"""What users' files go through: kills, a second writer, a full or read-only disk, hostile artifacts, random
configs and manifests. Nothing is lost, nothing is half written, and every failure is one line."""
from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from forecasting.artifacts import load_models, read_manifest
from forecasting.cli.main import app
from forecasting.config import validate_config
from forecasting.data.problems import InputError
from forecasting.outputs import MARKER, output_set, read_marker

runner = CliRunner()
CONFIG = {"name": "rel", "data": "data", "horizon": 12,
          "models": [{"name": "decay", "kind": "decay_curve", "curve": "weibull"}]}


@pytest.fixture(scope="module")
def work(tmp_path_factory, _pool_level_dir):
    """A working directory with data/, config.yaml and a fitted artifact model/."""
    import shutil
    root = tmp_path_factory.mktemp("rel")
    shutil.copytree(_pool_level_dir, root / "data")
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    result = runner.invoke(app, ["fit", str(root / "config.yaml"), "--out", str(root / "model")])
    assert result.exit_code == 0, result.output
    return root


def npas(*argv, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "forecasting.cli.main", *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def whole(directory: Path) -> bool:
    """Every file of the output set is there, and nothing else: all from one run."""
    marker = read_marker(directory)
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*")} - {MARKER}
    return marker is not None and present == set(marker["files"])


@pytest.mark.slow
@pytest.mark.parametrize("command", ["fit", "forecast"])
def test_kill_9_at_random_moments_leaves_the_old_or_the_new_output_whole(work, command, tmp_path):
    """12 kills at random moments of a run writing over its previous output: every time, the target is one run's
    whole output (the artifact loads; forecast_curves and forecast_summary come from the same run)."""
    import shutil
    target = "model" if command == "fit" else "fc"
    argv = ["fit", "config.yaml", "--out", target] if command == "fit" else \
        ["forecast", "model", "--data", "data", "--out", target]
    shutil.copytree(work / "data", tmp_path / "data")
    shutil.copytree(work / "model", tmp_path / "model")
    shutil.copy(work / "config.yaml", tmp_path)
    first = npas(*argv, cwd=tmp_path)
    start = time.perf_counter()
    assert first.wait(300) == 0, first.stderr.read()
    duration = time.perf_counter() - start
    rng = random.Random(14)
    outcomes = []
    for _ in range(12):
        before = (tmp_path / target / MARKER).read_text()
        proc = npas(*argv, cwd=tmp_path)
        time.sleep(rng.uniform(0.3, 1.05) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert whole(tmp_path / target), sorted(p.name for p in (tmp_path / target).iterdir())
        if command == "fit":
            models, _ = load_models(tmp_path / target)
            assert set(models) == {"decay"}
        else:
            curves = pd.read_csv(tmp_path / target / "forecast_curves.csv")
            summary = pd.read_csv(tmp_path / target / "forecast_summary.csv")
            assert set(curves["deal_id"]) == set(summary["deal_id"])
        outcomes.append("old" if (tmp_path / target / MARKER).read_text() == before else "new")
    assert "old" in outcomes, outcomes  # some kills landed before the swap (the test exercised both sides)


def test_a_second_writer_of_the_same_output_exits_2(work, tmp_path):
    with output_set(tmp_path / "model", "model"):  # another npas holds the target
        result = runner.invoke(app, ["fit", str(work / "config.yaml"), "--out", str(tmp_path / "model")])
    assert result.exit_code == 2 and "another npas command is writing" in result.stderr


@pytest.mark.slow
def test_two_concurrent_fits_never_both_report_saving(work, tmp_path):
    """Two fits started together to one --out: one saves, the other exits 2; never two 'saved' with one result
    silently lost."""
    import shutil
    shutil.copytree(work / "data", tmp_path / "data")
    shutil.copy(work / "config.yaml", tmp_path)
    procs = [npas("fit", "config.yaml", "--out", "model", cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(300), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 2], [0, 0]), results
    if codes == [0, 2]:
        assert any("another npas command is writing" in err for _, _, err in results)
    assert whole(tmp_path / "model")


@pytest.mark.parametrize("error, words", [(errno.ENOSPC, "no space left on the device"),
                                          (errno.EROFS, "the file system is read-only"),
                                          (errno.EACCES, "permission denied")])
def test_a_failing_disk_is_one_line_and_leaves_the_old_output(work, tmp_path, monkeypatch, error, words):
    """The disk fails while the outputs are written (patched: as root, permissions and read-only mounts cannot be
    simulated with chmod): exit 2 with one line naming the file, the previous output whole, nothing left over."""
    import shutil
    shutil.copytree(work / "model", tmp_path / "model")
    out = tmp_path / "fc"
    first = runner.invoke(app, ["forecast", str(tmp_path / "model"), "--data", str(work / "data"), "--out", str(out)])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(self, path, *args, **kwargs):
        raise OSError(error, os.strerror(error), str(path))
    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    result = runner.invoke(app, ["forecast", str(tmp_path / "model"), "--data", str(work / "data"), "--out", str(out)])
    assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "model"]


def test_an_internal_error_is_one_line_and_a_logged_traceback(work, tmp_path, monkeypatch):
    from forecasting.forecast import pipeline
    monkeypatch.setattr(pipeline, "forecast_tables", lambda *a, **k: 1 / 0)
    result = runner.invoke(app, ["forecast", str(work / "model"), "--data", str(work / "data"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()
    assert len(line) == 1 and "internal error (ZeroDivisionError" in line[0]
    log = Path(line[0].split("the traceback is in ")[1].split(",")[0])
    assert "ZeroDivisionError" in log.read_text() and not (tmp_path / "o").exists()


HOSTILE_MANIFESTS = ["null", "[]", "[" * 100_000 + "]" * 100_000, '{"format": 2}', '"npas"', "{}",
                     json.dumps({"format": 1, "payload": "/etc/passwd", "sha256": "0"})]


@pytest.mark.parametrize("text", HOSTILE_MANIFESTS, ids=range(len(HOSTILE_MANIFESTS)))
def test_hostile_manifests_are_refused_and_nothing_outside_is_read(work, tmp_path, text, monkeypatch):
    import builtins
    import shutil
    model = Path(shutil.copytree(work / "model", tmp_path / "model"))
    (model / "manifest.json").write_text(text)
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1])
    with pytest.raises(InputError):
        load_models(model)
    assert not [f for f in opened if not f.startswith(str(model))]


def test_a_pickled_artifact_of_an_older_npas_is_refused_without_running_it(work, tmp_path):
    import pickle
    import shutil
    model = Path(shutil.copytree(work / "model", tmp_path / "model"))
    sentinel = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))
    (model / "models.joblib").write_bytes(pickle.dumps(Evil()))
    result = runner.invoke(app, ["forecast", str(model), "--data", str(work / "data"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "refit the model" in result.stderr and not sentinel.exists()


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) |
                           st.text(max_size=8), lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
config_like = st.fixed_dictionaries({"name": st.text(max_size=10), "models": st.lists(st.dictionaries(
    st.sampled_from(["name", "kind", "curve", "covariates", "groups", "ordered_groups", "agency_prior", "level"]),
    json_values | st.sampled_from(["decay_curve", "survival_pool", "weibull", "vintage"]), max_size=5), max_size=3)},
    optional={"horizon": json_values, "quantiles": json_values, "backtest": json_values, "parallel": json_values,
              "as_of": json_values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=config_like | json_values)
def test_any_config_is_accepted_or_refused_with_problems(raw):
    try:
        validate_config(raw, "c.yaml")
    except InputError as err:
        assert err.problems and all(str(p).startswith("c.yaml:") for p in err.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.dictionaries(st.sampled_from(["format", "npas", "config", "models", "sha256", "packages", "python",
                                            "data_fingerprint", "chosen_model", "payload"]), json_values, max_size=9))
def test_any_manifest_is_refused_with_one_problem(raw, tmp_path_factory):
    directory = tmp_path_factory.mktemp("m")
    (directory / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(InputError):
        read_manifest(directory)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200) | st.builds(yaml.safe_dump, json_values))
def test_any_dataset_yaml_gives_problems_not_exceptions(text, tmp_path_factory):
    from forecasting.data.dataset import _read_meta
    directory = tmp_path_factory.mktemp("d")
    (directory / "dataset.yaml").write_text(text, encoding="utf-8")
    meta, problems = _read_meta(directory)
    assert (meta is None) == bool(problems)

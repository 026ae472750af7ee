"""Issue 14's adversarial set: hostile data, configs, artifacts, paths and numbers against the CLI, each outcome
classified. Every case lays unrelated files inside, beside and above its output target and in the working
directory, and checks them afterwards.

Outcomes: clean (exit 0 or 2, no traceback, nothing lost, the result right), traceback (a Python traceback, or exit
1: an internal error), silent (exit 0 with a wrong result: NaN, a collapsed band, a number changed), lost (a file
npas did not write changed or vanished), half (outputs of two runs mixed or half written), crash (a signal or a
timeout).

Run: .venv/bin/python benchmarks/adversarial.py [--tree DIR]   (DIR: a checkout to test, default this one; the
``before`` figures in the issue note come from the starting commit checked out with git worktree)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
BYSTANDER = "thesis.docx"
GOOD = {"name": "adv", "data": "data", "horizon": 12, "quantiles": [0.1, 0.5, 0.9],
        "models": [{"name": "decay", "kind": "decay_curve", "curve": "weibull"}],
        "backtest": {"schemes": ["as_of"], "horizons": [12], "as_of_dates": ["2024-06-30"]},
        "parallel": {"backend": "loky", "n_jobs": 1}}


@dataclass
class Case:
    """argv after 'npas'; ``check(work, stdout)`` returns why an exit-0 result is wrong, or None."""

    name: str
    group: str
    argv: list[str]
    check: Callable[[Path, str], str | None] | None = None
    setup: Callable[[Path], None] | None = None
    watch: list[str] = field(default_factory=list)  # more files that must survive


# ------------------------------------------------------------------------------------------- preparing work dirs
def demo_dataset_dir(target: Path) -> None:
    """The demo market, pool level, as CSV (the simulator is deterministic: same files on every machine)."""
    from forecasting.simulation.demo import demo_dataset
    ds = demo_dataset()
    target.mkdir(parents=True, exist_ok=True)
    ds.deals.to_csv(target / "deals.csv", index=False, date_format="%Y-%m-%d")
    ds.collections.to_csv(target / "collections.csv", index=False)
    (target / "dataset.yaml").write_text(f"name: demo-copy\nas_of: {ds.meta.as_of}\nperiod_months: 1\ncurrency: CNY\n")


def write_config(work: Path, change: Callable[[dict], None] | None = None, name: str = "config.yaml") -> None:
    config = json.loads(json.dumps(GOOD))
    if change:
        change(config)
    (work / name).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def edit_table(work: Path, stem: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = work / "data" / f"{stem}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def cell(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


# ------------------------------------------------------------------------------------------- result checks
def summary_of(work: Path, out: str = "out") -> pd.DataFrame | None:
    path = work / out / "forecast_summary.csv"
    return pd.read_csv(path) if path.is_file() else None


def forecast_is_sane(work: Path, _: str) -> str | None:
    s = summary_of(work)
    if s is None:
        return None
    numbers = s.select_dtypes("number")
    if numbers.isna().any().any():
        return "NaN in forecast_summary.csv"
    if ((s["gross_recovery"] < s["gross_recovery_p10"] - 1e-6) | (s["gross_recovery"] > s["gross_recovery_p90"] + 1e-6)).any():
        return "a point forecast outside its band"
    new = s[s["observed_periods"] == 0]
    if len(new) and ((new["gross_recovery_p90"] - new["gross_recovery_p10"]) <= 1e-9).any():
        return "a new pool's band collapsed"
    return None


def bands_unmoved(work: Path, out: str) -> str | None:
    """The other deals' bands equal (within Monte Carlo) those of the same fit on clean data (reference/)."""
    s, ref = summary_of(work), summary_of(work, "reference")
    if s is None or ref is None:
        return None
    both = s.merge(ref, on="deal_id", suffixes=("", "_ref")).iloc[1:]
    width, ref_width = both["gross_recovery_p90"] - both["gross_recovery_p10"], \
        both["gross_recovery_p90_ref"] - both["gross_recovery_p10_ref"]
    return "another deal's band moved" if (np.abs(width - ref_width) > 0.5 * ref_width + 0.002).any() else \
        forecast_is_sane(work, out)


def value_kept(stem: str, column: str, row: int, value: float) -> Callable[[Path, str], str | None]:
    """A cell read back from what npas loaded must be the number written (or the run must have refused it)."""
    def check(work: Path, stdout: str) -> str | None:
        if "valid" not in stdout:
            return None
        from forecasting.data.dataset import load_dataset
        table = getattr(load_dataset(work / "data"), stem)
        got = float(table[column].iloc[row])
        return None if abs(got - value) <= 1e-9 * max(1.0, abs(value)) else f"{column} read as {got}, written {value}"
    return check


def refused(work: Path, stdout: str) -> str | None:
    """Exit 0 is wrong here: the input must be refused."""
    return "accepted" if stdout is not None else None


# ------------------------------------------------------------------------------------------- the cases
def cases() -> list[Case]:
    out: list[Case] = []
    fit = ["fit", "config.yaml", "--out", "out"]
    validate = ["validate", "data"]
    forecast = ["forecast", "model", "--data", "data", "--out", "out"]

    # data loss and path escape
    def user_file_in(path: str) -> Callable[[Path], None]:
        def setup(work: Path) -> None:
            (work / path).mkdir(parents=True, exist_ok=True)
            (work / path / BYSTANDER).write_text("mine")
        return setup
    out += [Case("fit into a directory with a user's file", "paths", fit, setup=user_file_in("out"), watch=[f"out/{BYSTANDER}"]),
            Case("simulate into a directory with a user's file", "paths", ["simulate", "--out", "out", "--no-loans"],
                 setup=user_file_in("out"), watch=[f"out/{BYSTANDER}"]),
            Case("demo into a folder whose data/ holds a user's file", "paths", ["demo", "--out", "out"],
                 setup=user_file_in("out/data"), watch=[f"out/data/{BYSTANDER}"])]
    for target in (".", "", "..", "../.."):
        out += [Case(f"fit --out {target!r}", "paths", ["fit", "config.yaml", "--out", target]),
                Case(f"simulate --out {target!r}", "paths", ["simulate", "--out", target, "--no-loans"]),
                Case(f"forecast --out {target!r}", "paths", ["forecast", "model", "--data", "data", "--out", target])]
    for name in ("", ".", "..", "../..", "/tmp/npas-victim-dir", "../../x", "a/../../b"):
        out.append(Case(f"config name {name!r}", "paths", ["fit", "config.yaml"],
                        setup=lambda w, n=name: write_config(w, lambda c: c.update(name=n))))
    out += [Case("--out a symlink to a user's directory", "filesystem", fit,
                 setup=lambda w: (user_file_in("real")(w), (w / "out").symlink_to(w / "real")), watch=[f"real/{BYSTANDER}"]),
            Case("--out a file", "filesystem", fit, setup=lambda w: (w / "out").write_text("mine"), watch=["out"]),
            Case("--out under a file", "filesystem", ["fit", "config.yaml", "--out", "afile/out"],
                 setup=lambda w: (w / "afile").write_text("mine"), watch=["afile"]),
            Case("dataset path is a file", "filesystem", ["validate", "config.yaml"]),
            Case("forecast --out the dataset itself", "paths", ["forecast", "model", "--data", "data", "--out", "data"],
                 watch=["data/deals.csv"])]

    # hostile artifacts
    def artifact(change: Callable[[Path], None]) -> Callable[[Path], None]:
        return lambda w: change(w / "model")
    sentinel = "PWNED"

    def pickle_payload(model: Path) -> None:
        import pickle

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {model.parent / sentinel}",))
        (model / "models.joblib").write_bytes(pickle.dumps({"decay": Evil()}))
        manifest = model / "manifest.json"
        data = json.loads(manifest.read_text())
        data.update(format=1, payload="models.joblib")
        manifest.write_text(json.dumps(data))

    def manifest_is(value) -> Callable[[Path], None]:
        return lambda m: (m / "manifest.json").write_text(value if isinstance(value, str) else json.dumps(value))

    def manifest_edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
        def apply(m: Path) -> None:
            data = json.loads((m / "manifest.json").read_text())
            change(data)
            (m / "manifest.json").write_text(json.dumps(data))
        return apply

    def state_is(value) -> Callable[[Path], None]:
        """The fitted state replaced by ``value`` (state.json; in a tree that saves joblib, its payload)."""
        def apply(m: Path) -> None:
            if (m / "state.json").exists():
                (m / "state.json").write_text(json.dumps(value))
            else:
                import joblib
                joblib.dump(value, m / "models.joblib", compress=3)
            _rehash(m)
        return apply

    def damage_arrays(how: str) -> Callable[[Path], None]:
        """A byte flipped in, or the second half cut from, the binary payload (arrays.npz, or models.joblib)."""
        def apply(m: Path) -> None:
            target = m / "arrays.npz" if (m / "arrays.npz").exists() else m / "models.joblib"
            raw = target.read_bytes()
            raw = raw[: len(raw) // 2] if how == "truncate" else raw[:200] + bytes([raw[200] ^ 0xFF]) + raw[201:]
            target.write_bytes(raw)
            _rehash(m)
        return apply

    hostile = [("pickle payload that runs a command", pickle_payload),
               ("manifest payload an absolute path", manifest_edit(lambda d: d.update(payload="/etc/passwd"))),
               ("manifest null", manifest_is("null")), ("manifest []", manifest_is("[]")),
               ("manifest of 100,000 nested brackets", manifest_is("[" * 100_000 + "]" * 100_000)),
               ("manifest packages a string", manifest_edit(lambda d: d.update(packages="npas"))),
               ("manifest without config", manifest_edit(lambda d: d.pop("config", None))),
               ("manifest config horizon -3", manifest_edit(lambda d: d["config"].update(horizon=-3))),
               ("manifest config quantiles [5, -1]", manifest_edit(lambda d: d["config"].update(quantiles=[5, -1]))),
               ("state {}", state_is({})), ("state null", state_is(None)), ("state [1, 2]", state_is([1, 2])),
               ("state {'decay': 5}", state_is({"decay": 5})),
               ("state naming a class to import", state_is({"decay": {"__state__": "os.system", "fields": {}}})),
               ("payload flipped byte, hash recomputed", damage_arrays("flip")),
               ("payload truncated, hash recomputed", damage_arrays("truncate"))]
    for name, change in hostile:
        out.append(Case(name, "artifacts", forecast, setup=artifact(change),
                        check=lambda w, s, n=sentinel: "a command from the artifact ran" if (w / n).exists() else None))

    # configs
    for label, change in [("backtest horizons [0]", lambda c: c["backtest"].update(horizons=[0])),
                          ("backtest horizons [-1]", lambda c: c["backtest"].update(horizons=[-1])),
                          ("backtest horizons []", lambda c: c["backtest"].update(horizons=[])),
                          ("backtest horizons [100000]", lambda c: c["backtest"].update(horizons=[100000])),
                          ("n_jobs 0", lambda c: c["parallel"].update(n_jobs=0)),
                          ("n_jobs 1000000", lambda c: c["parallel"].update(n_jobs=1000000)),
                          ("backend ray", lambda c: c["parallel"].update(backend="ray")),
                          ("a covariate twice", lambda c: c["models"][0].update(covariates=["log_avg_balance"] * 2)),
                          ("as_of leaving one deal", lambda c: c.update(as_of="2021-06-30")),
                          ("horizon 10^6", lambda c: c.update(horizon=10**6)),
                          ("backtest as_of in 2099", lambda c: c["backtest"].update(as_of_dates=["2099-01-01"])),
                          ("two models with one name", lambda c: c["models"].append(dict(c["models"][0]))),
                          ("quantiles 0.1 and 0.1000001", lambda c: c.update(quantiles=[0.1, 0.1000001, 0.9])),
                          ("999 quantiles", lambda c: c.update(quantiles=[i / 1000 for i in range(1, 1000)]))]:
        command = ["backtest", "config.yaml", "--out", "out"] if "backtest" in label or "n_jobs" in label or \
            "ray" in label else fit
        out.append(Case(f"config: {label}", "config", command, setup=lambda w, ch=change: write_config(w, ch),
                        check=refused if label not in ("as_of leaving one deal",) else None))
    out.append(Case("config: horizon of 5,000 digits", "config", fit, check=refused,
                    setup=lambda w: (w / "config.yaml").write_text(
                        (w / "config.yaml").read_text().replace("horizon: 12", "horizon: " + "9" * 5000))))
    out.append(Case("config: a key given twice", "config", fit,
                    setup=lambda w: (w / "config.yaml").write_text((w / "config.yaml").read_text() + "horizon: 24\n"),
                    check=refused))
    out.append(Case("forecast --horizon 1000000", "config", forecast + ["--horizon", "1000000"], check=refused))

    # data
    for value in ("1e9", "1e19", "1e308", "inf", "3000", "100000"):
        out.append(Case(f"period {value}", "data", validate,
                        setup=lambda w, v=value: edit_table(w, "collections", lambda f: cell(f, "period", 3, v)),
                        check=refused))
    out += [Case("timezone-aware cut-off dates", "data", validate,
                 setup=lambda w: edit_table(w, "deals", lambda f: f.assign(cutoff_date=f["cutoff_date"] + "T00:00:00+08:00"))),
            Case("timezone-aware dates with a config as_of", "data", fit,
                 setup=lambda w: (edit_table(w, "deals", lambda f: f.assign(cutoff_date=f["cutoff_date"] + "T00:00:00+08:00")),
                                  write_config(w, lambda c: c.update(as_of="2025-06-30")))),
            Case("Parquet period 2**62", "data", validate, setup=lambda w: _parquet(w, "collections", "period", 2**62),
                 check=refused),
            Case("Parquet list column", "data", validate, setup=lambda w: _parquet(w, "deals", "opb", None), check=refused),
            Case("Parquet timedelta delinquency", "data", validate,
                 setup=lambda w: _parquet(w, "deals", "wa_delinquency_months", "timedelta"), check=refused),
            Case("Parquet integer dates", "data", validate, setup=lambda w: _parquet(w, "deals", "cutoff_date", "int"),
                 check=refused),
            Case("decimal comma", "data", validate,
                 setup=lambda w: edit_table(w, "collections", lambda f: cell(f, "gross_collections", 0, "59999999,97")),
                 check=refused),
            Case("50% as collections", "data", validate,
                 setup=lambda w: edit_table(w, "collections", lambda f: cell(f, "gross_collections", 0, "50%")), check=refused),
            Case("100000% borrowers", "data", validate,
                 setup=lambda w: edit_table(w, "deals", lambda f: cell(f, "n_borrowers", 0, "100000%")), check=refused),
            Case("period 100%", "data", validate,
                 setup=lambda w: edit_table(w, "collections", lambda f: cell(f, "period", 0, "100%")), check=refused),
            Case("day-first and month-first dates mixed", "data", validate,
                 setup=lambda w: edit_table(w, "deals", lambda f: cell(cell(f, "cutoff_date", 0, "01/02/2021"), "cutoff_date",
                                                                      1, "31/05/2021")), check=refused),
            Case("a file cut mid-row", "data", validate, setup=lambda w: _cut(w / "data" / "collections.csv"), check=refused),
            Case("a header given twice", "data", validate, setup=lambda w: _twice(w / "data" / "deals.csv"), check=refused),
            Case("NUL bytes after 64 KiB", "data", validate,
                 setup=lambda w: _append(w / "data" / "collections.csv", b"x" * 70_000 + b"\x00\n"), check=refused),
            Case("GBK deals YAML for forecast --data", "data", ["forecast", "model", "--data", "pool.yaml", "--out", "out"],
                 setup=lambda w: (w / "pool.yaml").write_bytes(
                     "- {deal_id: 新池, originator: B, vintage: 2025, cutoff_date: 2025-06-30, opb: 5e8, n_borrowers: 3000, "
                     "wa_delinquency_months: 5.2}\n".encode("gbk")), check=refused),
            Case("billion-laughs deals YAML for forecast --data", "data",
                 ["forecast", "model", "--data", "pool.yaml", "--out", "out"], setup=_laughs, check=refused),
            Case("formula in a deal id", "data", forecast,
                 setup=lambda w: (edit_table(w, "deals", lambda f: cell(f, "deal_id", 0, '=HYPERLINK("http://x","y")')),
                                  edit_table(w, "collections", lambda f: f.assign(deal_id=f["deal_id"].replace(
                                      "A-2021-1", '=HYPERLINK("http://x","y")')))),
                 check=lambda w, s: "a formula reached a CSV" if (w / "out" / "forecast_summary.csv").is_file() and
                 "\n=HYPERLINK" in (w / "out" / "forecast_summary.csv").read_text() else None),
            Case("--max-per-check -1", "data", ["validate", "data", "--max-per-check", "-1"],
                 setup=lambda w: edit_table(w, "collections", lambda f: cell(f, "gross_collections", 0, "x")), check=refused)]

    # numeric edge cases (fit, then forecast every pool)
    numeric = [("a single deal", lambda w: _keep(w, ["C-2023-1"])),
               ("constant wa_delinquency_months",
                lambda w: edit_table(w, "deals", lambda f: f.assign(wa_delinquency_months="5"))),
               ("all-zero wa_delinquency_months",
                lambda w: edit_table(w, "deals", lambda f: f.assign(wa_delinquency_months="0"))),
               ("every pool paying its opb in period 1", _all_in_period_1),
               ("one seasoned pool among new ones", lambda w: edit_table(w, "collections",
                                                                        lambda f: f[f["deal_id"] == "A-2021-1"])),
               ("all collections zero", lambda w: edit_table(w, "collections", lambda f: f.assign(gross_collections="0"))),
               ("all collections x 1e-9", lambda w: edit_table(w, "collections", lambda f: f.assign(
                   gross_collections=(f["gross_collections"].astype(float) * 1e-9).map(repr)))),
               ("one deal with n_borrowers = opb", _one_yuan)]
    for label, setup in numeric:
        out.append(Case(f"numeric: {label}", "numeric", ["fit-forecast"], setup=setup,
                        check=bands_unmoved if "n_borrowers" in label else forecast_is_sane))
    out.append(Case("simulate --seed -1", "numeric", ["simulate", "--out", "out", "--seed", "-1", "--no-loans"],
                    check=refused))
    return out


def _rehash(model: Path) -> None:
    import hashlib
    manifest = json.loads((model / "manifest.json").read_text())
    if isinstance(manifest.get("sha256"), dict):
        for name in list(manifest["sha256"]):
            manifest["sha256"][name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
    elif "sha256" in manifest and (model / manifest.get("payload", "models.joblib")).is_file():
        manifest["sha256"] = hashlib.sha256((model / manifest.get("payload", "models.joblib")).read_bytes()).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest))


def _parquet(work: Path, stem: str, column: str, value) -> None:
    path = work / "data" / f"{stem}.csv"
    frame = pd.read_csv(path)
    if column == "cutoff_date" and value == "int":
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y%m%d").astype(int)
    elif value == "timedelta":
        frame[column] = pd.to_timedelta(frame[column], unit="D")
    elif value is None:
        frame[column] = [[1.0, 2.0]] * len(frame)
    else:
        frame[column] = frame[column].astype("int64")
        frame.loc[0, column] = value
    path.unlink()
    frame.to_parquet(path.with_suffix(".parquet"))


def _cut(path: Path) -> None:
    text = path.read_text().rstrip("\n")
    path.write_text(text.rsplit(",", 1)[0])


def _twice(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",opb"] + [line + ",1" for line in lines[1:]]) + "\n")


def _append(path: Path, data: bytes) -> None:
    path.write_bytes(path.read_bytes() + data)


def _laughs(work: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    (work / "pool.yaml").write_text("\n".join(lines) + "\n")


def _keep(work: Path, ids: list[str]) -> None:
    edit_table(work, "deals", lambda f: f[f["deal_id"].isin(ids)])
    edit_table(work, "collections", lambda f: f[f["deal_id"].isin(ids)])


def _all_in_period_1(work: Path) -> None:
    deals = pd.read_csv(work / "data" / "deals.csv").set_index("deal_id")["opb"]
    edit_table(work, "collections", lambda f: f.assign(gross_collections=np.where(
        f["period"] == "1", f["deal_id"].map(deals).map(repr), "0")))


def _one_yuan(work: Path) -> None:
    edit_table(work, "deals", lambda f: f.assign(n_borrowers=f["n_borrowers"].where(f.index != 0, f["opb"].str.split(".").str[0]),
                                                 avg_balance=f["avg_balance"].where(f.index != 0, "1")))


# ------------------------------------------------------------------------------------------- running a case
def prepare(case: Case, scratch: Path, fitted: Path) -> tuple[Path, dict[Path, bytes]]:
    """A work directory (parent/work) with the dataset, a good config and a fitted artifact, bystanders around."""
    # two levels above the parent, so that '../..' of the working directory is still this case's own folder
    safe = "".join(ch if ch.isalnum() else "_" for ch in case.name)[:60]
    parent = scratch / safe / "above" / "parent"
    work = parent / "work"
    shutil.copytree(fitted, work)
    (parent / BYSTANDER).write_text("mine, in the parent")
    (work / BYSTANDER).write_text("mine, in the working directory")
    (work / "out.txt").write_text("mine, beside the output")
    if case.setup:
        case.setup(work)
    watched = [parent / BYSTANDER, work / BYSTANDER, work / "out.txt"] + [work / p for p in case.watch]
    return work, {p: p.read_bytes() for p in watched if p.is_file()}


def classify(case: Case, work: Path, code: int | None, stdout: str, stderr: str, before: dict[Path, bytes]) -> str:
    if any((not p.is_file()) or p.read_bytes() != content for p, content in before.items()):
        return "lost"
    if code is None or code < 0:
        return "crash"
    if "Traceback" in stderr or code not in (0, 2):
        return "traceback"
    if work.is_dir() and any(p.name.startswith(".") and ("npas-staging" in p.name or p.name.startswith(
            (".art.", ".forecast_"))) for p in work.rglob(".*")):
        return "half"
    if code == 0 and case.check is not None and case.check(work, stdout):
        return "silent"
    return "clean"


def run_case(case: Case, work: Path, python: str, tree: Path, timeout: float = 600) -> tuple[int | None, str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    argv = case.argv
    if argv == ["fit-forecast"]:
        code, so, se = run_case(replace(case, argv=["fit", "config.yaml", "--out", "model2"]), work, python, tree, timeout)
        if code != 0:
            return code, so, se
        argv = ["forecast", "model2", "--data", "data", "--out", "out"]
    try:
        res = subprocess.run([python, "-m", "forecasting.cli.main", *argv], cwd=work, env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timeout"
    except FileNotFoundError:  # an earlier step of the case removed its own working directory
        return 0, "", ""
    return res.returncode, res.stdout, res.stderr


def fitted_work(scratch: Path, python: str, tree: Path) -> Path:
    """The shared start of every case: data/, config.yaml, model/ (fitted by the tree under test), reference/."""
    base = scratch / "_base"
    base.mkdir()
    demo_dataset_dir(base / "data")
    write_config(base)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    for argv in (["fit", "config.yaml", "--out", "model"], ["forecast", "model", "--data", "data", "--out", "reference"]):
        subprocess.run([python, "-m", "forecasting.cli.main", *argv], cwd=base, env=env, check=True, capture_output=True)
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to test (its forecasting/ package)")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as inputs:
        scratch = Path(tmp)
        base = fitted_work(Path(inputs), python, args.tree.resolve())
        results = []
        for case in cases():
            if args.only not in case.name:
                continue
            try:
                work, before = prepare(case, scratch, base)
            except Exception as exc:  # the case does not apply to this tree (e.g. its artifact format)
                print(f"{'n/a':9s}      {case.group:10s} {case.name}: setup failed ({exc})", flush=True)
                continue
            code, stdout, stderr = run_case(case, work, python, args.tree.resolve())
            outcome = classify(case, work, code, stdout, stderr, before)
            results.append((case.group, case.name, outcome, code, (stderr.strip().splitlines() or [""])[-1][:110]))
            print(f"{outcome:9s} {code!s:>4} {case.group:10s} {case.name}: {results[-1][-1]}", flush=True)
        counts = Counter(r[2] for r in results)
        print(f"\n{len(results)} cases: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in
                                                    ("clean", "traceback", "silent", "lost", "half", "crash")))
        print(pd.crosstab(pd.Series([r[0] for r in results], name="group"), pd.Series([r[2] for r in results],
                                                                                    name="outcome")).to_string())


if __name__ == "__main__":
    main()

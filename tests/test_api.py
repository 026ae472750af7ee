"""The Python API's functions keep their names whatever else has been imported: a subpackage first imported after
``forecasting`` rebinds its name on the package, and ``fc.backtest`` was the module after its first call."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import forecasting as fc


def test_the_api_functions_survive_importing_every_module():
    for module in pkgutil.walk_packages(fc.__path__, "forecasting."):
        importlib.import_module(module.name)
    for name in ("backtest", "fit", "forecast", "load_config", "structure"):
        assert inspect.isfunction(getattr(fc, name)), f"fc.{name} is {getattr(fc, name)!r}"

"""The exception that carries input problems to the CLI survives the trip back from a joblib worker."""
from __future__ import annotations

import pickle

from forecasting.data.problems import InputError, Problem


def test_input_error_pickles_with_its_problems():
    error = InputError([Problem("deals.csv", 3, "opb", "must be > 0"), Problem("config", None, "models", "empty")])
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - what joblib does with a worker's exception
    assert again.problems == error.problems and str(again) == str(error)

"""The exception that carries input problems to the CLI survives the trip back from a joblib worker, and says
which model a config problem found at fit belongs to."""
from __future__ import annotations

import pickle

from forecasting.data.problems import InputError, Problem


def test_input_error_pickles_with_its_problems():
    error = InputError([Problem("deals.csv", 3, "opb", "must be > 0"), Problem("config", None, "models", "empty")])
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - what joblib does with a worker's exception
    assert again.problems == error.problems and str(again) == str(error)


def test_a_config_problem_found_at_fit_is_located_in_its_model_and_data_problems_are_left_alone():
    error = InputError([Problem("config", None, "agency_prior", "too few pools"),
                        Problem("deals.csv", 3, "opb", "must be > 0"), Problem("config", None, None, "empty")])
    assert [str(p) for p in error.in_model("decay_agency").problems] == [
        "config:-:decay_agency.agency_prior: too few pools", "deals.csv:3:opb: must be > 0", "config:-:-: empty"]
    assert str(error.in_model("decay_agency", "vintage_holdout/2022").problems[0]) == (
        "config:-:decay_agency.agency_prior: vintage_holdout/2022: too few pools")

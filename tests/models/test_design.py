"""Group coding: one-hot for unordered groups, random-walk steps for ordered ones (vintage)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models.design import Design, group_levels, level_indicators


def test_ordered_levels_follow_numbers_not_strings():
    assert group_levels(pd.Series([2024, 2021, 999, 2023]), ordered=True) == ["999", "2021", "2023", "2024"]
    assert group_levels(pd.Series(["B", "A"]), ordered=False) == ["A", "B"]


def test_ordered_indicators_are_cumulative_steps_after_the_first_level_and_a_later_level_starts_from_the_last():
    """The first level is the intercept's: a column of ones for it would be identified by its prior alone."""
    levels = ["2021", "2022", "2023"]
    values = np.array(["2021", "2023", "2025", "2020"])
    np.testing.assert_array_equal(level_indicators(values, levels, ordered=True),
                                  [[0, 0], [1, 1], [1, 1], [0, 0]])
    np.testing.assert_array_equal(level_indicators(values, levels, ordered=False),
                                  [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])


def test_design_marks_unseen_levels_of_ordered_groups():
    deals = pd.DataFrame({"vintage": [2021, 2022], "originator": ["A", "B"], "x": [1.0, 2.0]})
    design = Design(("x",), ("originator", "vintage"), ("vintage",)).fit(deals)
    new = pd.DataFrame({"vintage": [2023], "originator": ["C"], "x": [1.5]})
    R, unseen = design.random(new)
    np.testing.assert_array_equal(R, [[0, 0, 1]])
    np.testing.assert_array_equal(unseen, [[True, True]])
    assert design.random_names() == [("originator", "A"), ("originator", "B"), ("vintage", "2022")]
    np.testing.assert_array_equal(design.group_of_random(), [0, 0, 1])


def test_a_covariate_without_variation_is_dropped_and_named():
    deals = pd.DataFrame({"vintage": [2021, 2022, 2023], "x": [1.0, 2.0, 4.0], "y": [3.0, 3.0, 3.0]})
    design = Design(("x", "y"), ("vintage",), ("vintage",)).fit(deals)
    assert design.active_ == ["x"] and design.dropped_ == ["y"]
    assert design.fixed(deals).shape == (3, 2) and "'y' does not vary across the 3 deal(s)" in design.dropped_reason(3)
    np.testing.assert_allclose(design.standardised(deals).std(), 1.0)


def test_two_covariates_without_variation_are_named_in_the_plural():
    deals = pd.DataFrame({"vintage": [2021, 2022], "x": [1.0, 1.0], "y": [3.0, 3.0]})
    design = Design(("x", "y"), ("vintage",), ("vintage",)).fit(deals)
    assert design.dropped_reason(2) == "covariates 'x', 'y' do not vary across the 2 deal(s); fitted without them"

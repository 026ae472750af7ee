"""Fitted state is data: what fit learns encodes to JSON and numeric arrays and decodes to the same values; anything
else is refused."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.models.base import Diagnostics
from forecasting.models.state import StateError, decode, encode


def round_trip(value):
    arrays: dict = {}
    text = json.dumps(encode(value, arrays))
    return decode(json.loads(text), arrays)


def test_values_survive_the_round_trip():
    value = {"a_": np.arange(6.0).reshape(2, 3), "b_": (1, "x", None, float("nan")), "c_": [True, 2.5],
             "d_": pd.Series([1.0, 2.0], index=pd.Index(["p", "q"], name="deal_id")),
             "e_": pd.DataFrame({"x": [1, 2], "y": ["u", "v"]}), "f_": Diagnostics(True, 3, ("w",), {"deals": 2}),
             "g_": {2021: 0.5}}
    back = round_trip(value)
    np.testing.assert_array_equal(back["a_"], value["a_"])
    assert back["b_"][:3] == (1, "x", None) and np.isnan(back["b_"][3]) and back["c_"] == [True, 2.5]
    pd.testing.assert_series_equal(back["d_"], value["d_"])
    pd.testing.assert_frame_equal(back["e_"], value["e_"], check_dtype=False)
    assert back["f_"] == value["f_"] and back["g_"] == {2021: 0.5}


@pytest.mark.parametrize("value", [object(), np.array([object()]), lambda: 0, {1: object()}])
def test_what_is_not_state_is_refused_at_saving(value):
    with pytest.raises(StateError):
        encode(value, {})


@pytest.mark.parametrize("entry", [{"__state__": "os.system", "fields": {}}, {"__array__": "missing"},
                                   {"__float__": "1e999"}, {"__unknown__": 1}, {}, {"__items__": [[[1], 2]]},
                                   {"__state__": "Diagnostics", "fields": {"converged": True, "evil": 1}}])
def test_what_encode_never_writes_is_refused_at_loading(entry):
    with pytest.raises((StateError, TypeError)):
        decode(entry, {})

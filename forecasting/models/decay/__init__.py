"""The decay-curve family: pool-level recovery curves with partially pooled level and timing effects."""
from forecasting.models.decay.model import DecayCurveModel

__all__ = ["DecayCurveModel"]

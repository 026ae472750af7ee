"""The decay-curve family: pool-level recovery curves with partially pooled level and timing effects, and their
stacked mixture over timing families."""
from forecasting.models.decay.averaged import DecayAverageModel
from forecasting.models.decay.model import DecayCurveModel

__all__ = ["DecayAverageModel", "DecayCurveModel"]

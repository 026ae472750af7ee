"""The methods analysts use today, as estimators on the shared interface (tag ``is_baseline``): the backtests score
every model against them."""
from forecasting.models.baselines.agency import AgencyBaseline
from forecasting.models.baselines.chain_ladder import ChainLadderBaseline
from forecasting.models.baselines.vintage_mean import VintageMeanBaseline

__all__ = ["AgencyBaseline", "ChainLadderBaseline", "VintageMeanBaseline"]

"""The methods analysts use today, as estimators on the shared interface (tag ``is_baseline``): the backtests score
every model against them. The reserving methods run on chainladder-python's triangle fits."""
from forecasting.models.baselines.agency import AgencyBaseline
from forecasting.models.baselines.reserving import BootstrapODP, BornhuetterFerguson, CapeCod, MackChainLadder
from forecasting.models.baselines.vintage_mean import VintageMeanBaseline

__all__ = ["AgencyBaseline", "BootstrapODP", "BornhuetterFerguson", "CapeCod", "MackChainLadder", "VintageMeanBaseline"]

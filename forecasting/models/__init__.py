"""Estimators: one subpackage or module per family behind one base class (base.py) and a registry (registry.py).

Importing this package registers every family."""
from forecasting.models import baselines, decay, survival  # noqa: F401 - each registers its kinds

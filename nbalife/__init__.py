"""nbalife: the operator's toolkit for the lifecycle of a live NBA halftime forecaster."""

__version__ = "0.1.0"

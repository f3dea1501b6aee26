"""Allowed values and shared defaults, one home each: configuration, the CLI and the forecasters
read them from here. Imports nothing, so the lightest module can use it."""

from __future__ import annotations

ARMS = ("A", "B", "shadow")  # the model arms a prediction is logged under
DEVICES = ("cpu", "cuda", "auto")  # where the LSTM trains; "auto" is cuda when available
AGGREGATIONS = ("median", "weighted")  # how Dejavu combines its analogs' moves
DEFAULT_K = 200  # Dejavu's analogs per forecast (measured in nbalife.forecast.dejavu.Dejavu)

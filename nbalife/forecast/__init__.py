"""Forecasters and their calibration.

``patterns`` (games as arrays, input checks), ``dejavu`` (analog forecaster), ``lstm`` (PyTorch
sequence model; imports torch, so import it lazily), ``ensemble``, ``conformal`` (intervals),
``modelset`` (the four fitted and saved together), ``metrics``, ``artifacts`` (atomic
writes, damaged files as BadInput, ``NotFitted``). Importing this package imports
nothing heavy.
"""

"""Forecasters and their calibration.

``patterns`` (games as arrays, input checks), ``dejavu`` (analog forecaster) over ``knn``
(its exact neighbour search), ``lstm`` (sequence model; no torch at import) with
``lstm_numpy`` (the forward pass that scores) and ``lstm_torch`` (the network and its training:
the one module that imports torch), ``ensemble``, ``conformal`` (intervals), ``modelset`` (the
four fitted and saved together), ``metrics`` (errors, coverage, model scores), ``artifacts``
(model files, damaged files as BadInput, ``NotFitted``), ``ratings`` (team strength as of a
date) and ``context`` (the move from pre-game strength). Importing this package imports
nothing heavy.
"""

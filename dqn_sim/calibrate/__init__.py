"""Calibration: ground a scenario in real interaction logs (MovieLens-format or a mapped CSV/Parquet).

``readers`` turns files into compact arrays, ``fit`` turns those into a normal ScenarioConfig (with the fitted
item and segment tables), ``report`` simulates the fitted world under a logging-like policy and measures how far
it is from the data, ``pipeline`` runs the three for the CLI and the studio, ``synth`` writes logs whose truth is
known (tests, benchmark).
"""

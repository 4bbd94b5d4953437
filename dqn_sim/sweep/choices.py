"""The sweep's choices on the command line and in the studio, light to import (no Optuna)."""

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "none")
OBJECTIVES = {"return": "return_mean", "ctr": "ctr"}  # objective -> the validation column it reads

"""``python -m dqn_sim``."""

import sys

from dqn_sim.cli import main

sys.exit(main())

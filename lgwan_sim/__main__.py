"""``python -m lgwan_sim``: the command line, as ``lgwan-sim``."""

import sys

from lgwan_sim.cli import main

sys.exit(main())

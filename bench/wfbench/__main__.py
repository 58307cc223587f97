"""``python -m wfbench``: what ``bench/run`` executes."""

import sys

from wfbench.main import main

sys.exit(main())

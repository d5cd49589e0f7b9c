"""``python -m scoring.distributed``: see scoring.distributed.cli."""

from __future__ import annotations

import sys

from scoring.distributed.cli import main

sys.exit(main())

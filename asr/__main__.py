"""``python -m asr``: the ``asr`` command for launchers that start modules, e.g. ``torchrun -m asr train``."""

import sys

from asr.cli import main

sys.exit(main())

"""``python -m sweeps ...``: the same as the ``sweeps`` command."""
import sys

from .cli import main

sys.exit(main())

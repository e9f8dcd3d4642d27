"""``python -m sweeps ...``: the same as the ``sweeps`` command."""
from .cli import entry

entry()

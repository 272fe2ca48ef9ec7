"""``python -m floe`` is the ``floe`` command."""

from floe.cli.main import entry

entry()

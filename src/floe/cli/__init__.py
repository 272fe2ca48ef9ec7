"""The ``floe`` command line: thin commands over the Python API."""

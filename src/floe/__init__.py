"""floe: a data-platform runtime.

A pipeline spec (``floe.yaml``) and a platform spec (``platform.yaml``) compile into one
versioned contract (``.floe/artifacts.json``); everything that runs reads only that contract.
"""

__version__ = "0.1.0"

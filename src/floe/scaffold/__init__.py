"""``floe init``: create a project that runs as it is."""

from floe.scaffold.init import InitResult, init_project

__all__ = ["InitResult", "init_project"]

"""Dagster definitions built from the compiled artifacts, and the in-process runner.

Nothing here reads floe.yaml or platform.yaml: the artifacts are the only input.
"""

"""The two spec files floe reads: floe.yaml (the pipeline) and platform.yaml (each environment)."""

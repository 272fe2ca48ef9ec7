"""The compiled artifacts: the one contract between ``floe compile`` and everything that runs."""

from floe.contract.io import ARTIFACTS_FILE, load_artifacts, write_artifacts
from floe.contract.v1 import ArtifactsV1 as Artifacts

__all__ = ["ARTIFACTS_FILE", "Artifacts", "load_artifacts", "write_artifacts"]

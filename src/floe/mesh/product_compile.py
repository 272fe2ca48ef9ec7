"""What 'floe compile' adds for a data product: checked input ports, dbt sources for them, port info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floe.contract.io import write_text_atomic
from floe.contract.v1 import InputPortInfo, MeshInfo, OutputPortInfo
from floe.errors import SpecError
from floe.spec.project import Project

# The dbt sources file floe writes into the product's dbt project (first model path).
PORTS_SOURCES_FILE = "_floe_input_ports.yml"


def prepare_product(project: Project) -> list[InputPortInfo]:
    """Before dbt parses: check the input ports and declare them as dbt sources.

    Raises:
        SpecError: an input port breaks its contract (see :mod:`floe.mesh.ports`).
        LakehouseError: the shared catalog cannot be opened.
    """
    assert project.mesh is not None and project.pipeline.model.product is not None
    target = ports_sources_path(project.dbt_project_dir)
    if not project.pipeline.model.product.ports.inputs:
        target.unlink(missing_ok=True)  # a file an earlier compile wrote, for ports no longer read
        return []
    from floe.lakehouse import open_catalog
    from floe.mesh.ports import check_input_ports, input_ports_sources

    environment = project.environment
    catalog = open_catalog(environment.catalog, environment.storage, project.root)
    pinned = check_input_ports(project, catalog)
    text = input_ports_sources(pinned, project)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text_atomic(target, text)
    return pinned


def ports_sources_path(dbt_project_dir: Path) -> Path:
    """Where the input ports' dbt sources go: the first of the dbt project's model-paths."""
    import yaml

    try:
        document = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        document = {}
    paths = document.get("model-paths") if isinstance(document, dict) else None
    first = paths[0] if isinstance(paths, list) and paths and isinstance(paths[0], str) else "models"
    return dbt_project_dir / first / PORTS_SOURCES_FILE


def mesh_info(project: Project, manifest: dict[str, Any], inputs: list[InputPortInfo]) -> MeshInfo:
    """After dbt parsed: each output port must name a model of the project.

    Raises:
        SpecError: an output port names no model.
    """
    from floe.observability.lineage_naming import iceberg_namespace

    assert project.mesh is not None and project.pipeline.model.product is not None
    product = project.pipeline.model.product
    models = {str(node.get("name")) for node in manifest.get("nodes", {}).values()
              if node.get("resource_type") == "model"}
    issues = [
        project.pipeline.source.issue(("product", "ports", "outputs", index, "model"),
                                      f"output port '{port.name}' names model '{port.model}', which the dbt project "
                                      "does not have", f"models: {', '.join(sorted(models)) or 'none'}")
        for index, port in enumerate(product.ports.outputs) if port.model not in models
    ]
    if issues:
        raise SpecError(issues)
    domain = project.mesh.domain.model
    return MeshInfo(
        domain=domain.name, domain_version=domain.version, product=project.pipeline.model.name,
        lineage_namespace=iceberg_namespace(project.environment, project.root),
        outputs=[OutputPortInfo(name=port.name, model=port.model, version=port.version,
                                dataset=f"{domain.name}.{project.pipeline.model.name}.{port.name}")
                 for port in product.ports.outputs],
        inputs=inputs,
    )

"""The data mesh: products bound to domains, their ports published to the shared catalog, and the
contracts between them (ARCHITECTURE.md, "Data mesh"; the spec side is floe.spec.mesh)."""

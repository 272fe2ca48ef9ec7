"""Observability: OpenTelemetry traces and OpenLineage events of every run.

``tracing`` turns a run and its nodes into a span tree; ``lineage`` turns them into
OpenLineage run events with datasets named for the compute target and the Iceberg catalog;
``observer`` feeds both from the node events a run publishes and decides what a failed
export means (one warning per destination, or a failed run in strict mode).
"""

"""Kubernetes deployment with Helm: values models, their schemas, values from the artifacts,
rendering and deploying the charts in ``charts/``.

Nothing here imports Helm at module level; the Helm SDK (pip ``helm-python-sdk``) or the
``helm`` binary is looked up only when a chart is rendered or deployed.
"""

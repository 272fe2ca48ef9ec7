"""Deployment: what the local stack (Compose, ``floe dev``) and Kubernetes (Helm) are made from.

Everything here reads the compiled artifacts, never ``floe.yaml`` or ``platform.yaml`` directly.
"""

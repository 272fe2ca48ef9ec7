"""Prometheus metrics of a Dagster instance: the series the chart's PrometheusRule alerts on.

``collector`` reads the instance on every scrape (runs by status, failed runs, run durations,
daemon heartbeat ages, whether the storage answered); ``durations`` keeps the duration
histogram monotonic and cheap; ``exporter`` serves it (``floe metrics serve``) or prints one
scrape (``floe metrics show``). prometheus_client comes with the ``metrics`` extra and is
imported only when used.
"""

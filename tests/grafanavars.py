"""Grafana's built-in interval variables, filled in as Grafana does before it queries, so that a
dashboard's query can be parsed or run by Prometheus (offline tests and the cluster's)."""

from __future__ import annotations

GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "10s", "$__range": "1h"}


def fill(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr

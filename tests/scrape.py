"""Reading /metrics (or a `Metrics` registry) in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app.metrics import Metrics


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text format, or None when it is not there."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def recorded(metrics: Metrics, name: str, **labels: str) -> float:
    """One series of a process's registry; 0 when it was never recorded."""
    return metrics.registry.get_sample_value(name, labels) or 0.0

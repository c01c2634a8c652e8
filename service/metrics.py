"""Prometheus metrics of the service (one registry per app; multi-process aware under ``--workers N``)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("msp_nlp_http_requests", "HTTP requests by method, route template and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("msp_nlp_http_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.notes = Counter("msp_nlp_notes_checked", "Notes analysed, by endpoint", ["endpoint"], registry=r)
        self.analysis = Histogram("msp_nlp_analysis_duration_seconds", "Time to analyse one note",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.flags = Counter("msp_nlp_flags_raised", "Flags in responses, by level (note or case) and flag code",
                             ["level", "code"], registry=r)

    def flag(self, level: str, flags: list[dict]) -> None:
        for f in flags:
            self.flags.labels(level, f["code"]).inc()

    def render(self) -> bytes:
        mp_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if mp_dir:  # several worker processes: add up what every worker wrote
            from prometheus_client import multiprocess
            reg = CollectorRegistry()
            multiprocess.MultiProcessCollector(reg, path=mp_dir)
            return generate_latest(reg)
        return generate_latest(self.registry)

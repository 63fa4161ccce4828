"""What cluster a scan runs on: one dataclass, from flags, a TOML file or defaults."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterSpec:
    kind: str = "local"          # local | address | scheduler-file (more kinds: see docs/CLUSTER.md)
    workers: int = 0             # local: worker processes (0: one per core, or one per GPU)
    threads_per_worker: int = 1  # task slots per worker process
    address: str = ""            # kind=address: tcp://host:port
    scheduler_file: str = ""     # kind=scheduler-file: path of the JSON the scheduler wrote
    dashboard: bool = True       # local: serve the dashboard (on 127.0.0.1)
    memory_limit: str = "auto"   # local: per worker

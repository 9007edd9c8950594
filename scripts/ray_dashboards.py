#!/usr/bin/env python
"""Write Ray's own default Grafana dashboard, as the pinned Ray generates it, into the chart.

Ray writes its dashboards into the head's session folder when the head starts; KubeRay's guide has them
copied from there into Grafana. The chart ships the default one (the platform uses Ray Core only; Serve,
Data and Train have their own) as a dashboard ConfigMap instead (``monitoring.dashboards.ray``), generated
here by Ray's own code with no override variables set. ``tests/k8s/test_consistency.py`` fails when the file
differs from what the installed Ray generates: after a Ray upgrade, run this script.

    python scripts/ray_dashboards.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "helm" / "ray-services" / "files" / "dashboards" / "ray"


def default_dashboard() -> dict:
    """Ray's default dashboard for the installed Ray, without the environment's override variables."""
    from ray.dashboard.modules.metrics import grafana_dashboard_factory as factory

    for key in [
        k for k in os.environ if k.startswith("RAY_GRAFANA_") and k.endswith(("_UID", "_FILTERS", "_URL"))
    ]:
        os.environ.pop(key)
    content, _uid = factory.generate_default_grafana_dashboard()
    return json.loads(content)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "ray-default.json"
    path.write_text(json.dumps(default_dashboard(), indent=1, sort_keys=True) + "\n")
    print(f"written: {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

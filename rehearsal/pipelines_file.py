"""Pipelines files (the config/pipelines.yaml format) written for rehearsals, tests and benchmarks.

``pipeline_settings`` derives one pipeline from the repository's estate pipeline (``shop``): the same
cluster, task and buckets, with its own connection ids, so that several estates, each behind its own
connections, can be several pipelines of one Airflow. ``write_pipelines`` writes a file that
``CDC_RUNBOOKS_PIPELINES`` can point at.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_PIPELINES = Path(__file__).resolve().parent.parent / "config" / "pipelines.yaml"
TEMPLATE = "shop"
CONN_KEYS = ("aws_conn_id", "source_conn_id", "target_conn_id")


def pipeline_settings(suffix: str) -> dict:
    """The estate pipeline's settings with connection ids ``<conn id>_<suffix>``."""
    settings = dict(yaml.safe_load(REPO_PIPELINES.read_text())["pipelines"][TEMPLATE])
    settings.update({key: f"{settings[key]}_{suffix}" for key in CONN_KEYS})
    return settings


def many_pipelines(count: int) -> dict[str, dict]:
    """``count`` distinct, valid pipelines (own cluster, DMS task, schema and connections each)."""
    pipelines = {}
    for number in range(count):
        settings = pipeline_settings(f"{number:03d}")
        settings.update(source_cluster=f"prod-{number:03d}", target_schema=f"shop_{number:03d}",
                        dms_task_arn=settings["dms_task_arn"].rsplit(":", 1)[0] + f":cdc-{number:03d}")
        pipelines[f"pipeline_{number:03d}"] = settings
    return pipelines


def write_pipelines(path: Path, pipelines: dict[str, dict]) -> Path:
    """Write ``{"pipelines": pipelines}`` as YAML, one key per line (so a setting's line is findable)."""
    path.write_text(yaml.safe_dump({"pipelines": pipelines}, sort_keys=False, default_flow_style=False))
    return path


def connection_env(airflow_env: dict[str, str], suffix: str) -> dict[str, str]:
    """An estate's ``AIRFLOW_CONN_*`` variables renamed to the connection ids of ``pipeline_settings(suffix)``."""
    return {f"{name}_{suffix.upper()}": value for name, value in airflow_env.items()}

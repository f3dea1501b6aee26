"""The one schedule of nbalife's jobs, rendered as a crontab or as Kubernetes CronJobs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nbalife.errors import BadInput

BLOCK_BEGIN = "# BEGIN nbalife (managed by `nbalife cron install`; edit the schedule there)"
BLOCK_END = "# END nbalife"
_JOB_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Job:
    """One scheduled command: its name (lock and log), when, what, and why."""

    name: str
    when: str
    args: tuple[str, ...]
    why: str


JOBS: tuple[Job, ...] = (
    Job("outcomes", "*/10 * * * *", ("outcomes", "sync"),
        "match logged predictions with the halftime results that arrived"),
    Job("metrics-export", "*/5 * * * *", ("metrics", "export", "--prometheus", "{home}/metrics/nbalife.prom"),
        "node_exporter textfile for Prometheus"),
    Job("metrics-check", "0 * * * *", ("metrics", "check"), "alert on MAE, coverage and volume"),
    Job("abtest-advance", "*/15 * * * *", ("abtest", "advance", "--if-running"),
        "move the active A/B test a stage on, promote, or roll back"),
    Job("conformal-check", "0 2 * * *", ("conformal", "check"), "recalibrate the interval when coverage drifts"),
    Job("verify", "30 1 * * *", ("registry", "verify", "--all"), "recompute every model set's checksums"),
    Job("dejavu-update", "0 3 * * 1", ("dejavu", "update"), "add last week's finished games to the analog database"),
    Job("drift-check", "30 3 * * 1", ("drift", "check"), "compare recent inputs with the training window"),
    Job("lstm-retrain", "0 4 1 * *", ("lstm", "retrain"), "retrain when a trigger fires; never promotes"),
    Job("gc", "0 5 * * 0", ("registry", "gc"), "delete model sets beyond registry.keep_versions"),
)


def check_job_name(name: str) -> str:
    """A job name is a lock and a log file name: lower-case letters, digits and dashes."""
    if not _JOB_NAME.fullmatch(name):
        raise BadInput(f"job name {name[:60]!r}: use lower-case letters, digits and '-' (no '/')")
    return name


@dataclass(frozen=True)
class Installation:
    """Where this installation's pieces are, as absolute paths."""

    home: Path
    nbalife: Path
    wrapper: Path


def crontab(where: Installation | None = None) -> str:
    """The schedule as crontab lines; with ``where``, this installation's absolute paths."""
    home, nbalife, wrapper = ((str(where.home), str(where.nbalife), str(where.wrapper)) if where
                              else ("/srv/nbalife", "/opt/nbalife/.venv/bin/nbalife",
                                    "/opt/nbalife/scripts/nbalife-cron"))
    lines = [
        "# nbalife schedule. To install it, run `nbalife cron install`: it writes these lines, with this",
        "# installation's paths, into a marked block of your crontab (`nbalife cron uninstall` removes",
        "# it; `nbalife cron show` prints it). Or edit the three paths below and run `crontab FILE`.",
        "# Each line runs through scripts/nbalife-cron: a non-blocking lock per job (exit 3 on overlap),",
        "# HOME/nbalife.env sourced for secrets, timestamped output in $NBALIFE_HOME/logs/JOB.log, and",
        "# the job's own exit code. Times are the server's local time.",
        f"NBALIFE_HOME={home}",
        f"NBALIFE={nbalife}",
        f"CRON={wrapper}",
        "",
    ]
    for job in JOBS:
        args = " ".join(job.args).replace("{home}", "$NBALIFE_HOME")
        lines += [f"# {job.why}", f"{job.when:<14}$CRON {job.name} -- $NBALIFE {args}"]
    return "\n".join(lines) + "\n"


def with_block(existing: str, block: str | None) -> str:
    """``existing`` crontab text with nbalife's marked block replaced (or removed when None).

    Lines outside the block are kept as they are; applying the same block twice changes nothing.
    """
    kept: list[str] = []
    inside = False
    for line in existing.splitlines():
        if line == BLOCK_BEGIN:
            inside = True
        elif line == BLOCK_END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    if block is not None:
        kept += ([""] if kept else []) + [BLOCK_BEGIN, *block.rstrip("\n").splitlines(), BLOCK_END]
    return "\n".join(kept) + "\n" if kept else ""


def kubernetes(image: str, env: dict[str, str], *, namespace: str | None = None) -> str:
    """The schedule as Kubernetes ``CronJob`` manifests (one YAML document each)."""
    import yaml

    home = env.get("NBALIFE_HOME", "/var/lib/nbalife")
    documents = []
    for job in JOBS:
        args = [a.replace("{home}", home) for a in job.args]
        metadata = {"name": f"nbalife-{job.name}", "labels": {"app": "nbalife", "job": job.name}}
        if namespace:
            metadata["namespace"] = namespace
        container = {"name": "nbalife", "image": image, "command": ["nbalife", *args],
                     "env": [{"name": k, "value": v} for k, v in sorted(env.items())]}
        documents.append({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
            "spec": {"schedule": job.when, "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                         "restartPolicy": "Never", "containers": [container]}}}}},
        })
    return yaml.safe_dump_all(documents, sort_keys=False)

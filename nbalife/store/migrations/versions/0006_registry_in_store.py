"""The model registry moves into the store: versions, their files, the artifacts (content-addressed
by sha256), the production pointer, the history of switches and the promotions a freeze deferred.

A home that holds a folder registry (``model_registry/<version>/`` with ``metadata.json``,
``HISTORY.jsonl`` and the ``models/current`` link) is imported in the same transaction: every file
is hashed against its metadata first, and one that does not match stops the upgrade naming it
(nothing is written). ``nbalife db upgrade`` passes the home in ``config.attributes["home"]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import sqlite

from nbalife.errors import BadInput

revision = "0006"
down_revision = "0005"

Identifier = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")
_SWITCHES = ("promote", "rollback", "recover")


def upgrade() -> None:
    op.create_table(
        "registry_versions",
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("parent", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_registry_versions_parent", "registry_versions", ["parent"])
    op.create_index("ix_registry_versions_state", "registry_versions", ["state"])
    op.create_table(
        "registry_files",
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_registry_files_sha256", "registry_files", ["sha256"])
    op.create_table(
        "registry_artifacts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("bytes", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    production = op.create_table(
        "registry_production",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.String(32), nullable=True),
        sa.Column("since", sa.DateTime, nullable=True),
        sa.CheckConstraint("id = 1", name="ck_registry_production_one_row"),
    )
    op.create_table(
        "registry_switches",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=True),
        sa.Column("to_version", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_registry_switches_at", "registry_switches", ["at"])
    op.create_table(
        "registry_pending",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("asked_at", sa.DateTime, nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("force", sa.Boolean, nullable=False),
        sa.Column("not_before", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done_at", sa.DateTime, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
    )
    op.create_index("ix_registry_pending_state", "registry_pending", ["state"])
    op.bulk_insert(production, [{"id": 1, "version": None, "since": None}])
    home = context.config.attributes.get("home")
    if home is not None:
        import_folder_registry(op.get_bind(), Path(home))


# ------------------------------------------------------------------ the import of a folder registry

def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns))


_versions = _table("registry_versions", "version", "kind", "parent", "created_at", "created_by", "description",
                   "metadata", "state", "deleted_at")
_files = _table("registry_files", "version", "name", "sha256", "size")
_artifacts = sa.table("registry_artifacts", sa.column("sha256"), sa.column("bytes", sa.LargeBinary),
                      sa.column("size"))
_production = _table("registry_production", "id", "version", "since")
_switch_rows = sa.table("registry_switches", sa.column("at"), sa.column("who"), sa.column("host"),
                        sa.column("action"), sa.column("from_version"), sa.column("to_version"),
                        sa.column("reason"), sa.column("forced", sa.Boolean), sa.column("details"))


def _db_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def _history(path: Path) -> list[dict[str, Any]]:
    """Every complete line of HISTORY.jsonl (a torn last line is ignored)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "action" not in record or "time" not in record:
            raise BadInput(f"{path}: line {number} is not a registry history entry; the registry was not imported")
        out.append(record)
    return out


def _folder(directory: Path) -> tuple[dict[str, Any], list[tuple[str, str, int, bytes]]]:
    """metadata.json of a version folder and its files, each hashed against it."""
    meta_path = directory / "metadata.json"
    try:
        doc = json.loads(meta_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{meta_path}: unreadable ({exc}); the registry was not imported") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict) or doc.get("version") != directory.name:
        raise BadInput(f"{meta_path}: not the metadata of version {directory.name}; the registry was not imported")
    files = []
    for name, entry in sorted(doc["files"].items()):
        path = directory / name
        try:
            data = path.read_bytes()
        except OSError:
            raise BadInput(f"{path}: missing; the registry was not imported") from None
        sha = hashlib.sha256(data).hexdigest()
        if sha != entry.get("sha256") or len(data) != entry.get("size"):
            raise BadInput(f"{path}: checksum mismatch (expected {entry.get('sha256')}, found {sha}); "
                           "the registry was not imported")
        files.append((name, sha, len(data), data))
    return doc, files


def _pointer(home: Path) -> str | None:
    link = home / "models" / "current"
    if not link.is_symlink():
        return None
    name = Path(os.readlink(link)).name
    return name if _VERSION.fullmatch(name) else None


def import_folder_registry(conn: sa.Connection, home: Path) -> None:
    """Import ``home``'s folder registry: versions, artifacts, tombstones of versions gc deleted,
    the switches that took effect, and the production pointer."""
    root = home / "model_registry"
    if not root.is_dir():
        return
    history = _history(root / "HISTORY.jsonl")
    folders = sorted(p for p in root.iterdir() if _VERSION.fullmatch(p.name) and p.is_dir())
    current = _pointer(home)
    if current is not None and not (root / current).is_dir():
        current = None
    moves = [h for h in history if h["action"] in _SWITCHES]
    afters = [m.get("from_version") for m in moves[1:]] + [current]
    served: set[str] = set()
    switches = []
    for move, after in zip(moves, afters):
        if move["action"] == "recover" or move.get("to_version") != after or after is None:
            continue
        served.update(v for v in (move.get("from_version"), move["to_version"]) if v)
        switches.append({"at": _db_time(move["time"]), "who": str(move.get("user", ""))[:64],
                         "host": str(move.get("host", ""))[:255], "action": move["action"],
                         "from_version": move.get("from_version"), "to_version": move["to_version"],
                         "reason": str(move.get("reason", "")),
                         "forced": bool((move.get("details") or {}).get("force", False)),
                         "details": json.dumps({"imported": True, **(move.get("details") or {})}, default=str)})
    seen_sha: set[str] = set(conn.execute(sa.select(_artifacts.c.sha256)).scalars())
    registered: dict[str, dict[str, Any]] = {h["to_version"]: h for h in history
                                             if h["action"] == "register" and h.get("to_version")}
    on_disk = set()
    for directory in folders:
        doc, files = _folder(directory)
        on_disk.add(directory.name)
        line = registered.get(directory.name, {})
        state = "production" if directory.name == current else "retired" if directory.name in served else "candidate"
        meta = {"metrics": doc.get("metrics") or {}, "params": doc.get("params") or {},
                "training_window": doc.get("training_window"), "nbalife_version": doc.get("nbalife_version", "")}
        conn.execute(sa.insert(_versions).values(
            version=directory.name, kind=doc.get("kind", "manual"), parent=doc.get("parent"),
            created_at=_db_time(doc["created_at"]), created_by=str(line.get("user", "imported"))[:64],
            description=doc.get("description", ""), metadata=json.dumps(meta, sort_keys=True), state=state,
            deleted_at=None))
        for name, sha, size, data in files:
            if sha not in seen_sha:
                conn.execute(sa.insert(_artifacts).values(sha256=sha, bytes=data, size=size))
                seen_sha.add(sha)
            conn.execute(sa.insert(_files).values(version=directory.name, name=name, sha256=sha, size=size))
    deleted = {v: h for h in history if h["action"] == "gc" for v in (h.get("details") or {}).get("deleted", [])}
    for version, gc_line in deleted.items():
        if version in on_disk or not _VERSION.fullmatch(str(version)):
            continue
        line = registered.get(version, {})
        details = line.get("details") or {}
        meta = {"metrics": details.get("metrics") or {}, "params": {}, "training_window": None, "nbalife_version": ""}
        conn.execute(sa.insert(_versions).values(
            version=version, kind=details.get("kind", "manual"), parent=line.get("from_version"),
            created_at=_db_time(line.get("time", gc_line["time"])), created_by=str(line.get("user", "imported"))[:64],
            description=str(line.get("reason", "")), metadata=json.dumps(meta, sort_keys=True), state="deleted",
            deleted_at=_db_time(gc_line["time"])))
    if switches:
        conn.execute(sa.insert(_switch_rows), switches)
    if current is not None:
        since = switches[-1]["at"] if switches else None
        conn.execute(sa.update(_production).where(_production.c.id == 1).values(version=current, since=since))

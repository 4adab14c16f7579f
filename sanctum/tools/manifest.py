"""Tool cards from `manifest.json` files (the format is in the README, "Tool manifests").

A folder is searched one level deep: `<folder>/manifest.json` and
`<folder>/<tool>/manifest.json`. A manifest is one tool object, or
`{"tools": [ … ]}`. Tools are matched by `id`: new ones are created, known ones
updated; nothing is deleted. The whole import is one transaction, audited.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from flask import current_app
from sqlalchemy import select

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import Tool, User
from sanctum.tools import service

MAX_MANIFEST_BYTES = 256 * 1024


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def manifest_dir() -> Path:
    configured = current_app.config.get("TOOLS_MANIFEST_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "tools"


def find_manifests(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [folder / "manifest.json"] if (folder / "manifest.json").is_file() else []
    found += sorted(p for p in folder.glob("*/manifest.json") if p.is_file())
    return found


def to_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """A manifest entry in the service's field names."""
    health = entry.get("health_check") or {}
    if not isinstance(health, dict):
        health = {"url": health}
    return {
        "slug": entry.get("id"),
        "name": entry.get("name"),
        "description": entry.get("description", ""),
        "emoji": entry.get("emoji"),
        "category": entry.get("category", "master"),
        "route_path": entry.get("url") or entry.get("route"),
        "is_enabled": entry.get("enabled", True),
        "health_check_url": health.get("url"),
        "health_check_interval": health.get("interval", 60),
    }


def read_entries(path: Path) -> list[dict[str, Any]]:
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValueError("larger than 256 KiB")
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.get("tools") if isinstance(data, dict) and "tools" in data else [data]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("expected a tool object or {\"tools\": [...]}")
    return entries


def import_folder(folder: Optional[Path] = None, *, actor: Optional[User]) -> ImportReport:
    """Create or update the tools the folder's manifests describe; a bad entry is reported, not fatal."""
    folder = folder or manifest_dir()
    report = ImportReport()
    for path in find_manifests(folder):
        where = path.relative_to(folder).as_posix()
        try:
            entries = read_entries(path)
        except (OSError, ValueError) as exc:
            report.errors.append(f"{where}: {exc}")
            continue
        for number, entry in enumerate(entries, 1):
            label = f"{where} #{number}" if len(entries) > 1 else where
            try:
                fields = service.clean(to_fields(entry))
            except service.ToolError as exc:
                report.errors.append(f"{label}: {exc}")
                continue
            existing = db.session.scalar(select(Tool).where(Tool.slug == fields["slug"]))
            if existing is None:
                tool = Tool(status="Ready", **fields)
                service._status_for(tool)
                db.session.add(tool)
                db.session.flush()
                report.created.append(tool.slug)
            elif service.update_tool(tool=existing, data=fields, actor=actor, commit=False):
                report.updated.append(existing.slug)
            else:
                report.unchanged.append(existing.slug)
    audit.record("tool.imported", actor=actor, target_type="tool_manifests", target_id=str(folder)[:100],
                 details={"created": report.created, "updated": report.updated, "errors": report.errors[:20]})
    db.session.commit()
    return report

"""Releases that passed the health gate, kept with the stack as stack tags (`preflight.release.N`),
so `rollback` needs nothing but the backend. A release is what a service runs: its image."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from pulumi import automation as auto

PREFIX = "preflight.release."
KEEP = 10


@dataclass(frozen=True)
class Release:
    number: int
    at: str
    images: dict[str, str]

    def line(self) -> str:
        return f"{self.number:>3}  {self.at}  " + ", ".join(f"{s}={i}" for s, i in sorted(self.images.items()))


def images_in(config_file: Path) -> dict[str, str]:
    services = (yaml.safe_load(config_file.read_text())["config"] or {}).get("preflight:services") or {}
    return {name: spec["image"] for name, spec in services.items()}


def recorded(stack: auto.Stack) -> list[Release]:
    tags = stack.workspace.list_tags(stack.name)
    found = [Release(**json.loads(value)) for key, value in tags.items() if key.startswith(PREFIX)]
    return sorted(found, key=lambda r: r.number)


def record(stack: auto.Stack, images: dict[str, str]) -> Release:
    known = recorded(stack)
    if known and known[-1].images == images:
        return known[-1]
    release = Release((known[-1].number + 1) if known else 1,
                      datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), images)
    stack.workspace.set_tag(stack.name, f"{PREFIX}{release.number}",
                            json.dumps({"number": release.number, "at": release.at, "images": images}))
    for old in known[:-(KEEP - 1)] if len(known) >= KEEP else []:
        stack.workspace.remove_tag(stack.name, f"{PREFIX}{old.number}")
    return release


def previous(stack: auto.Stack, current: dict[str, str]) -> Release | None:
    """The newest recorded release that differs from `current`."""
    for release in reversed(recorded(stack)):
        if release.images != current:
            return release
    return None


def config_with_images(config_file: Path, images: dict[str, str], target: Path) -> Path:
    """A copy of the stack's config file with the services' images replaced (the stack file in the
    repository stays as it is)."""
    document = yaml.safe_load(config_file.read_text())
    for name, image in images.items():
        document["config"]["preflight:services"][name]["image"] = image
    target.write_text(yaml.safe_dump(document))
    return target

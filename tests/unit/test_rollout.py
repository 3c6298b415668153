"""The rollout's decisions on a fake stack: a passing gate records the release, a failing one (or a
failed update) rolls back to the newest recorded release that differs, nothing to roll back to is
said, a rollback that fails too exits 1; releases rotate; `rollback N` applies release N."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deploy import releases
from deploy.exit_codes import Exit
from deploy.rollout import ApplyFailed, Rollout

GOOD, BAD, OLDER = "app:2", "app:3-broken", "app:1"


class FakeWorkspace:
    def __init__(self):
        self.tags: dict[str, str] = {}

    def list_tags(self, stack: str) -> dict[str, str]:
        return dict(self.tags)

    def set_tag(self, stack: str, key: str, value: str) -> None:
        self.tags[key] = value

    def remove_tag(self, stack: str, key: str) -> None:
        del self.tags[key]


class FakeStack:
    name = "local"

    def __init__(self):
        self.workspace = FakeWorkspace()


@pytest.fixture
def stack_file(tmp_path) -> Path:
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text(yaml.safe_dump({"config": {"preflight:services": {"api": {"image": BAD}}}}))
    return path


class World:
    """What the rollout did to the fake stack: updates applied (the images each put in place), lines said."""

    def __init__(self, stack_file: Path, *, release_fails: bool = False, gate: bool = True,
                 restore_fails: bool = False):
        self.target, self.stack_file = FakeStack(), stack_file
        self.applied: list[str] = []
        self.said: list[str] = []
        self.release_fails, self.gate_result, self.restore_fails = release_fails, gate, restore_fails

    def release(self) -> None:
        if self.release_fails:
            raise ApplyFailed(["container preflight-api-7d1 exited unhealthy"])
        self.applied.append(BAD)

    def restore(self, config: Path) -> None:
        if self.restore_fails:
            raise ApplyFailed(["the Docker engine went away"])
        self.applied.append(yaml.safe_load(config.read_text())["config"]["preflight:services"]["api"]["image"])

    def rollout(self) -> Rollout:
        return Rollout(self.target, self.stack_file, self.release, self.restore, lambda: self.gate_result,
                       self.said.append)


def test_a_release_that_passes_the_gate_is_recorded(stack_file):
    world = World(stack_file)
    outcome = world.rollout().run({"api": GOOD})
    assert outcome.exit == Exit.DONE and outcome.release == 1
    assert [r.images for r in releases.recorded(world.target)] == [{"api": GOOD}]


def test_a_gate_that_times_out_rolls_back_to_the_newest_release_that_differs(stack_file):
    world = World(stack_file, gate=False)
    for images in ({"api": OLDER}, {"api": GOOD}):
        releases.record(world.target, images)
    outcome = world.rollout().run({"api": BAD})
    assert outcome.exit == Exit.GATE and outcome.rolled_back_to == 2
    assert world.applied == [BAD, GOOD]
    assert "rolling back to release 2" in world.said and any("serving again" in line for line in world.said)
    assert yaml.safe_load(stack_file.read_text())["config"]["preflight:services"]["api"]["image"] == BAD  # untouched
    assert [r.number for r in releases.recorded(world.target)] == [1, 2]  # the failed one is never recorded


def test_a_failed_update_says_what_failed_then_rolls_back(stack_file):
    world = World(stack_file, release_fails=True)
    releases.record(world.target, {"api": GOOD})
    outcome = world.rollout().run({"api": BAD})
    assert outcome.exit == Exit.GATE and world.applied == [GOOD]
    assert world.said[:2] == ["up failed:", "  container preflight-api-7d1 exited unhealthy"]


def test_with_nothing_to_roll_back_to_it_says_so_and_applies_nothing_more(stack_file):
    world = World(stack_file, gate=False)
    outcome = world.rollout().run({"api": BAD})
    assert outcome.exit == Exit.GATE and outcome.rolled_back_to is None
    assert world.applied == [BAD] and "no earlier release recorded to roll back to" in world.said


def test_a_rollback_that_fails_too_exits_1_in_words(stack_file):
    world = World(stack_file, gate=False, restore_fails=True)
    releases.record(world.target, {"api": GOOD})
    outcome = world.rollout().run({"api": BAD})
    assert outcome.exit == Exit.FAILED and outcome.summary("local")["rolled_back_to"] is None
    assert "the rollback to release 1 failed too; the stack is as the rollback left it:" in world.said
    assert "  the Docker engine went away" in world.said


def test_releases_rotate_keeping_the_newest_and_an_unchanged_release_is_not_recorded_twice(stack_file):
    world = World(stack_file)
    for n in range(1, releases.KEEP + 3):
        releases.record(world.target, {"api": f"app:{n}"})
    releases.record(world.target, {"api": f"app:{releases.KEEP + 2}"})
    numbers = [r.number for r in releases.recorded(world.target)]
    assert numbers == list(range(3, releases.KEEP + 3))
    assert json.loads(world.target.workspace.tags[f"{releases.PREFIX}{numbers[-1]}"])["images"] == \
        {"api": f"app:{releases.KEEP + 2}"}


def test_rollback_to_n_applies_release_n(stack_file):
    world = World(stack_file)
    for images in ({"api": OLDER}, {"api": GOOD}):
        releases.record(world.target, images)
    [first] = [r for r in releases.recorded(world.target) if r.number == 1]
    world.rollout().roll_back_to(first)
    assert world.applied == [OLDER]

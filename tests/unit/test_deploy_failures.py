"""What `python -m deploy up` says when the update fails: the engine's words, never an empty line."""

from __future__ import annotations

from pulumi.automation import CommandError
from pulumi.automation._cmd import CommandResult

from deploy.__main__ import failure_lines


def command_error(stdout: str, stderr: str = "") -> CommandError:
    return CommandError(CommandResult(stdout=stdout, stderr=stderr, code=255))


def test_the_engine_diagnostics_are_what_the_user_reads():
    diagnostics = ["docker:index/container:Container resource 'preflight-api' has a problem: container "
                   "preflight-api-7d1 exited unhealthy\n", "error: update failed"]
    lines = failure_lines(command_error("Updating (local)\n", ""), diagnostics)
    assert lines == ["docker:index/container:Container resource 'preflight-api' has a problem: container "
                     "preflight-api-7d1 exited unhealthy"]


def test_an_empty_stderr_never_becomes_the_message():
    lines = failure_lines(command_error("Updating (local)\n    error: the proxy refused the routes\n", ""), [])
    assert lines[-1] == "error: the proxy refused the routes"
    assert not any(line.rstrip(":") in ("stderr", "stdout", "code") for line in lines)


def test_nothing_at_all_still_says_what_failed():
    assert failure_lines(command_error("", ""), []) == ["the pulumi command failed with exit code 255 and printed nothing"]

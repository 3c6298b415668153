"""Which of Docker's health events make `deploy up` remove a new container (ending its wait)."""

from __future__ import annotations

from deploy.unhealthy import REMOVE, REPORT, NewContainers


def event(container: str, status: str) -> dict:
    return {"id": container, "Action": f"health_status: {status}", "Actor": {"ID": container}}


def test_a_new_container_unhealthy_before_it_was_ever_healthy_fails_its_wait():
    assert NewContainers(set()).verdict(event("new", "unhealthy")) == REMOVE


def test_a_new_container_that_passed_its_check_is_never_removed_later():
    # It has passed the provider's wait and may be the release's only container behind the proxy.
    watch = NewContainers(set())
    assert watch.verdict(event("new", "healthy")) is None
    assert watch.verdict(event("new", "unhealthy")) == REPORT


def test_containers_that_existed_before_the_update_are_left_alone():
    watch = NewContainers({"old"})
    assert watch.verdict(event("old", "unhealthy")) is None
    assert watch.verdict({"Action": "health_status: unhealthy"}) is None


def test_other_events_call_for_nothing():
    assert NewContainers(set()).verdict({"id": "new", "Action": "start"}) is None

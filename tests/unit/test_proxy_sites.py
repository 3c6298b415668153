"""The release switch's pieces that need no proxy: filling upstreams, when it runs, how it reaches the host."""

from __future__ import annotations

import pytest

from components.proxy import ProxyRoute, render_main, render_sites
from components.proxy_sites import _ProxySitesProvider, fill_upstreams, upstream_marker
from components.remote_exec import exec_argv, pinned_options
from components.settings import ProxySettings

TEMPLATE = render_sites([ProxyRoute("api.example.com", "/", upstream_marker("api"), "/health"),
                         ProxyRoute("app.example.com", "/", upstream_marker("web"), "/healthz")])


def props(**changes):
    return {"role": "proxy-sites", "template": TEMPLATE, "upstreams": {"api": "preflight-api-1:8000",
                                                                        "web": "preflight-web-1:3000"},
            "container": "preflight-proxy-1", "docker_host": "unix:///var/run/docker.sock", **changes}


def test_each_route_goes_to_its_services_current_container():
    sites = fill_upstreams(TEMPLATE, props()["upstreams"])
    assert "reverse_proxy preflight-api-1:8000 {" in sites and "reverse_proxy preflight-web-1:3000 {" in sites
    assert "@upstream:" not in sites


def test_a_route_without_its_upstream_is_refused_before_the_proxy_is_touched():
    with pytest.raises(ValueError, match="@upstream:web@"):
        fill_upstreams(TEMPLATE, {"api": "preflight-api-1:8000"})


def test_a_new_container_is_an_update_in_place_never_a_replacement():
    diff = _ProxySitesProvider().diff("id", props(), props(upstreams={"api": "preflight-api-2:8000",
                                                                     "web": "preflight-web-1:3000"}))
    assert diff.changes and not diff.replaces
    assert not _ProxySitesProvider().diff("id", props(), props()).changes


def test_the_proxy_container_carries_no_upstream_so_releases_do_not_replace_it():
    main = render_main(ProxySettings(), ["api.example.com"], sites_file="/etc/preflight/sites.caddy")
    assert "reverse_proxy" not in main and main.rstrip().endswith("import /etc/preflight/sites.caddy")
    assert "grace_period 30s" in main  # requests in flight on the old release finish across a reload


def test_the_switch_runs_in_the_proxy_on_the_local_engine_or_over_ssh():
    assert exec_argv("unix:///var/run/docker.sock", "proxy", ["sh", "-c", "echo hi"]) == [
        "docker", "--host", "unix:///var/run/docker.sock", "exec", "-i", "proxy", "sh", "-c", "echo hi"]
    options = pinned_options("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheServer rehearsal")
    remote = exec_argv("ssh://deploy@203.0.113.10:2222", "proxy", ["sh", "-c", "echo 'hi there'"], options)
    assert remote[:1 + len(options)] == ["ssh", *options]
    assert "KnownHostsCommand=/bin/echo %H ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheServer" in options
    assert "StrictHostKeyChecking=yes" in options and not any("accept-new" in o or o.endswith("=no") for o in options)
    assert remote[-2] == "deploy@203.0.113.10" and remote[remote.index("-p") + 1] == "2222"
    assert remote[-1] == "docker exec -i proxy sh -c 'echo '\"'\"'hi there'\"'\"''"

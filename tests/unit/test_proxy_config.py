"""The Caddyfile the proxy runs: HTTPS only, HSTS, security headers, health-checked upstreams."""

from __future__ import annotations

from components.proxy import ProxyRoute, render_caddyfile
from components.settings import ProxySettings

ROUTES = [
    ProxyRoute("api.example.com", "/", "api:8000", "/health"),
    ProxyRoute("app.example.com", "/", "web:3000", "/healthz"),
    ProxyRoute("app.example.com", "/api", "api:8000", "/health"),
]


def test_hsts_and_security_headers_on_every_site():
    caddyfile = render_caddyfile(ProxySettings(), ROUTES)
    assert 'Strict-Transport-Security "max-age=31536000; includeSubDomains"' in caddyfile
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert header in caddyfile
    assert caddyfile.count("import security_headers") == 2  # one per hostname


def test_plain_http_redirects_to_https_on_the_published_port():
    assert "redir https://{host}{uri} 308" in render_caddyfile(ProxySettings(), ROUTES)
    local = render_caddyfile(ProxySettings(http_port=8080, https_port=8443), ROUTES)
    assert "redir https://{host}:8443{uri} 308" in local


def test_routes_are_health_checked_and_longest_path_first():
    caddyfile = render_caddyfile(ProxySettings(), ROUTES)
    app_site = caddyfile[caddyfile.index("https://app.example.com"):]
    assert app_site.index("handle /api/*") < app_site.index("reverse_proxy web:3000")
    assert "health_uri /healthz" in app_site and "health_uri /health\n" in app_site


def test_unrouted_paths_get_404_not_a_default_upstream():
    caddyfile = render_caddyfile(ProxySettings(), ROUTES[:1])
    assert "respond 404" in caddyfile

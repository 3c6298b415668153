"""Hetzner Cloud hosts: firewall openings, SSH, backups, protection, stable addresses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from components import cloudflare_ips

from .base import of_type, referrers, rule_maker
from .data import HCLOUD_PRIMARY_IP, HCLOUD_SERVER, HCLOUD_VOLUME, is_app_server
from .host_firewall import host_firewall
from .security import DYNAMIC

FIREWALL = "hcloud:index/firewall:Firewall"
FIREWALL_ATTACHMENT = "hcloud:index/firewallAttachment:FirewallAttachment"
USER_DATA_ROLE = "user-data"  # components/ssh_host.py: a server you have, its rendered user data
ADMIN_MIN_PREFIX_V4, ADMIN_MIN_PREFIX_V6 = 16, 48
CLOUDFLARE = [ipaddress.ip_network(r) for r in (*cloudflare_ips.IPV4, *cloudflare_ips.IPV6)]
PUBLIC_PORTS = {80, 443}
SSH_PORT = 22
DATA_PORTS = {5432: "Postgres", 6379: "Redis", 3306: "MySQL", 27017: "MongoDB", 11211: "memcached", 9200: "Elasticsearch"}


def is_user_data(props: Mapping[str, Any]) -> bool:
    return props.get("role") == USER_DATA_ROLE


def inbound_rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A Hetzner firewall's inbound rules, or what the host firewall in a server's user data admits
    (servers you have), in the same shape: every host kind is judged by the same checks."""
    if is_user_data(props):
        document = cloud_config(props.get("user_data") or "")
        return list((host_firewall(document) if document else None) or [])  # no firewall at all: PF-HOST-004
    return [r for r in props.get("rules") or [] if (r.get("direction") or "in") == "in"]


def port_range(rule: Mapping[str, Any]) -> range:
    """'22' -> 22..22, '8000-9000' -> 8000..9000, 'any' or missing -> every port."""
    port = str(rule.get("port") or "any")
    if port == "any":
        return range(1, 65536)
    low, _, high = port.partition("-")
    return range(int(low), int(high or low) + 1)


def opens(rule: Mapping[str, Any], port: int) -> bool:
    return rule.get("protocol") in ("tcp", "udp") and port in port_range(rule)


def broader_than_an_admin_network(source: str) -> bool:
    """An admin's network is an office or a VPN: /16 or narrower (IPv4), /48 or narrower (IPv6)."""
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return True  # not a network at all: nobody's
    return network.prefixlen < (ADMIN_MIN_PREFIX_V4 if network.version == 4 else ADMIN_MIN_PREFIX_V6)


def ssh_from_admins_only(props: Mapping[str, Any]) -> Iterator[str]:
    for rule in inbound_rules(props):
        if not opens(rule, SSH_PORT):
            continue
        broad = [ip for ip in rule.get("sourceIps") or [] if broader_than_an_admin_network(ip)]
        if broad:
            yield (f"SSH (22) is open to {', '.join(broad)}; admit only the admin CIDRs, each /16 or narrower "
                   f"(/48 for IPv6) (settings: host.admin_cidrs)")


def outside_cloudflare(source: str) -> bool:
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return True
    return not any(network.version == edge.version and network.subnet_of(edge) for edge in CLOUDFLARE)  # type: ignore[arg-type]


def no_data_ports(props: Mapping[str, Any]) -> Iterator[str]:
    for rule in inbound_rules(props):
        for port, service in DATA_PORTS.items():
            if opens(rule, port):
                yield f"the firewall opens {service} ({port}/{rule.get('protocol')}); close it — data services stay internal"


def only_web_and_ssh(props: Mapping[str, Any]) -> Iterator[str]:
    for rule in inbound_rules(props):
        if rule.get("protocol") not in ("tcp", "udp"):
            continue
        ports = set(port_range(rule))
        extra = ports - PUBLIC_PORTS - {SSH_PORT} - set(DATA_PORTS)  # data ports: PF-HOST-002
        if extra:
            yield f"inbound rule {rule.get('protocol')}/{rule.get('port') or 'any'} opens more than 22, 80 and 443; remove it"
        elif ports & PUBLIC_PORTS:
            # The web ports are Cloudflare's: a client that reaches the origin past it skips its rules.
            others = [ip for ip in rule.get("sourceIps") or [] if outside_cloudflare(ip)]
            if others:
                yield (f"inbound rule {rule.get('protocol')}/{rule.get('port')} admits {', '.join(others)}; the web "
                       f"ports admit only Cloudflare's ranges (settings: host.cloudflare_ranges; servers you have: "
                       "host.edge_ranges)")


def cloud_config(user_data: str) -> dict[str, Any] | None:
    """The user data as cloud-init reads it (a #cloud-config YAML document), or None."""
    if not user_data.lstrip().startswith("#cloud-config"):
        return None
    try:
        document = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None


def effective_sshd(document: Mapping[str, Any]) -> dict[str, str]:
    """What sshd ends up with from the files the user data writes, read as sshd reads them: a file it
    includes from the main config's first line before everything, then the drop-ins in name order;
    the first value of a keyword wins. cloud-init's own ssh_pwauth lands in 50-cloud-init.conf."""
    drop_ins: dict[str, str] = {}
    files = {str((entry or {}).get("path") or ""): str((entry or {}).get("content") or "")
             for entry in document.get("write_files") or []}
    commands = " ".join(" ".join(map(str, c)) if isinstance(c, list) else str(c) for c in document.get("runcmd") or [])
    for included in re.findall(r"1i Include (\S+?)'? /etc/ssh/sshd_config", commands):
        drop_ins["  " + included] = files.get(included, "")  # read before every drop-in: sorts first
    for path, content in files.items():
        if path.startswith("/etc/ssh/sshd_config.d/") and path.endswith(".conf"):
            drop_ins[path.rsplit("/", 1)[1]] = content
    if isinstance(document.get("ssh_pwauth"), bool):
        drop_ins.setdefault("50-cloud-init.conf", f"PasswordAuthentication {'yes' if document['ssh_pwauth'] else 'no'}")
    settings: dict[str, str] = {}
    for name in sorted(drop_ins):
        for line in drop_ins[name].splitlines():
            keyword, _, value = line.split("#", 1)[0].strip().partition(" ")
            if keyword and value.strip():
                settings.setdefault(keyword.lower(), value.strip().lower())
    return settings


def key_only_ssh(props: Mapping[str, Any]) -> Iterator[str]:
    """A Hetzner server (its sshKeys and user data) or a server you have (its rendered user data)."""
    if not is_user_data(props) and not props.get("sshKeys"):
        yield "give the server at least one SSH key (settings: host.ssh_keys); password login stays off"
    document = cloud_config((props.get("user_data") if is_user_data(props) else props.get("userData")) or "")
    if document is None:
        yield "the user data is not a #cloud-config document: its SSH settings cannot be judged; render it with Preflight"
        return
    sshd = effective_sshd(document)
    if sshd.get("passwordauthentication", "yes") != "no":
        yield ("SSH password login stays on (sshd's effective PasswordAuthentication is "
               f"{sshd.get('passwordauthentication', 'yes (the default)')}); set ssh_pwauth: false")
    if document.get("disable_root") is not True and sshd.get("permitrootlogin") != "no":
        yield "cloud-init must turn off root SSH login (disable_root: true, or PermitRootLogin no)"
    if not any(deploy_user(user) for user in document.get("users") or []):
        yield ("declare the deploy user with the admins' keys and no password (users: name deploy, "
               "ssh_authorized_keys, lock_passwd: true) (settings: host.ssh_keys)")


def key_only_ssh_on_servers(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == HCLOUD_SERVER or is_user_data(args.props):  # other dynamic resources are not servers
        yield from key_only_ssh(args.props)


def deploy_user(user: Any) -> bool:
    """A user that is not root, logs in with the admins' keys, and has no password to guess."""
    return isinstance(user, Mapping) and user.get("name") not in (None, "root", "default") and \
        bool(user.get("ssh_authorized_keys")) and user.get("lock_passwd", True) is True


def server_backups(props: Mapping[str, Any]) -> Iterator[str]:
    if not props.get("backups") and not is_app_server(props):
        yield "turn on server backups (backups: true) for the production server"


def deletion_protection(props: Mapping[str, Any]) -> Iterator[str]:
    if is_app_server(props):
        return
    if not props.get("deleteProtection"):
        yield "turn on deleteProtection so the resource cannot be deleted by mistake"
    if "rebuildProtection" in props and not props.get("rebuildProtection"):
        yield "turn on rebuildProtection so the server's disk cannot be wiped by a rebuild"


def stable_address(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("autoDelete", True):
        yield "set autoDelete: false so the address survives a server rebuild and DNS stays valid"


def every_server_has_firewall(resources: Sequence[PolicyResource]):
    firewalls = of_type(resources, FIREWALL, FIREWALL_ATTACHMENT)
    covered = referrers(firewalls)  # a firewall (or attachment) naming a server in applyTos/serverIds
    firewall_urns = {fw.urn for fw in firewalls}
    for server in of_type(resources, HCLOUD_SERVER):
        if server.urn in covered or {d.urn for d in server.property_dependencies.get("firewallIds", [])} & firewall_urns:
            continue
        if not server.props.get("firewallIds"):
            yield f"attach a firewall to {server.name} (firewallIds) — nothing filters its inbound traffic", server
    for user_data in (r for r in of_type(resources, DYNAMIC) if is_user_data(r.props)):
        document = cloud_config(user_data.props.get("user_data") or "")
        if document is not None and host_firewall(document) is None:
            yield (f"the user data of {user_data.props.get('server')} sets no host firewall (no script hooks a chain "
                   "into INPUT); render it with Preflight (`python -m deploy user-data STACK SERVER`)", user_data)


_rule = rule_maker("host")


RULES = [
    _rule("PF-HOST-001", "SSH is admitted only from admin CIDRs (Hetzner firewalls, and the host firewall in "
          "the user data of servers you have).", Severity.CRITICAL,
          "SSH only from admin CIDRs, key-only", ssh_from_admins_only, types=(FIREWALL, DYNAMIC)),
    _rule("PF-HOST-002", "The firewall opens no database or cache port (every host kind).", Severity.CRITICAL,
          "Postgres/Redis reachable only on an internal network (no published port, no firewall opening)",
          no_data_ports, types=(FIREWALL, DYNAMIC)),
    _rule("PF-HOST-003", "The firewall admits only 22, 80 and 443, the web ports from Cloudflare alone "
          "(every host kind).", Severity.HIGH,
          "Postgres/Redis reachable only on an internal network (no published port, no firewall opening)",
          only_web_and_ssh, types=(FIREWALL, DYNAMIC)),
    _rule("PF-HOST-004", "Every server has a firewall (Hetzner: attached; servers you have: in their user "
          "data).", Severity.CRITICAL,
          "SSH only from admin CIDRs, key-only", every_server_has_firewall),
    _rule("PF-HOST-005", "Servers allow key-only SSH, for a deploy user with the admins' keys, and no root "
          "login (every host kind).", Severity.CRITICAL,
          "SSH only from admin CIDRs, key-only", key_only_ssh_on_servers, types=(HCLOUD_SERVER, DYNAMIC),
          takes_args=True),
    _rule("PF-HOST-006", "Server backups are on (application servers keep nothing and are exempt).", Severity.HIGH,
          "server backups on in production",
          server_backups, types=(HCLOUD_SERVER,), production_only=True),
    _rule("PF-HOST-007", "Servers (but stateless application servers), volumes and primary IPs have deletion protection.",
          Severity.HIGH,
          "`protect`/deletion protection on stateful resources in production", deletion_protection,
          types=(HCLOUD_SERVER, HCLOUD_VOLUME, HCLOUD_PRIMARY_IP), production_only=True),
    _rule("PF-HOST-008", "Primary IPs outlive the server.", Severity.MEDIUM,
          "Postgres data on a persistent volume that survives container and server replacement",
          stable_address, types=(HCLOUD_PRIMARY_IP,)),
]

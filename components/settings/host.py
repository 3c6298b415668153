"""Where containers run: `local` here; the cloud host kinds live in cloud_settings and ssh_settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..cloud_settings import HetznerHost
from ..setting_types import Strict
from ..ssh_settings import SshHost


class LocalHost(Strict):
    kind: Literal["local"]
    docker_host: str = "unix:///var/run/docker.sock"
    app_servers: int = Field(1, ge=1, le=5, description="a rehearsal of several application servers on this one "
                             "engine: N copies of the proxy and services, copy k publishing on the proxy's ports + k-1, "
                             "released one after another")

    @property
    def multi_host(self) -> bool:
        return self.app_servers > 1


HostSettings = Annotated[LocalHost | HetznerHost | SshHost, Field(discriminator="kind")]
PUBLIC_HOSTS = ("hetzner", "ssh")
CLOUD_ENVIRONMENTS = ("production", "staging")

"""Container images, resolved on the host that runs them."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker


def remote_image(name: str, ref: str, opts: pulumi.ResourceOptions) -> docker.RemoteImage:
    """Pulls `ref` unless the host already has it; containers use the resolved image id, so a
    changed tag or digest shows up in the preview as a replacement of exactly the containers
    that run it."""
    return docker.RemoteImage(name, name=ref, keep_locally=True, opts=opts)

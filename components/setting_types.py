"""The constrained value types and the strict base model every settings model is built from
(shared by settings.py and cloud_settings.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
Domain = Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]
# repository[:tag][@sha256:digest]; the policy pack, not settings, decides whether a tag is acceptable.
ImageRef = Annotated[
    str, Field(pattern=r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$")
]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

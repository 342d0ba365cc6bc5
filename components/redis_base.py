"""What Redis Cluster and Sentinel groups share as components."""

from __future__ import annotations

from typing import ClassVar

import pulumi

from components import docker_node as dn
from components.base import InfraComponent
from components.redis_config import RedisConfig


class RedisTier(InfraComponent):
    """Redis data nodes on a Docker site, in the mode of the subclass.

    Both modes take the same things (the validated `redis` config, the site
    the stack gives them, the password as a secret) and share one image; a
    mode only says which containers to run (`build`).
    """

    type_token: ClassVar[str]

    def __init__(
        self,
        name: str,
        config: RedisConfig,
        site: dn.Site,
        password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.type_token, name, None, opts)
        self.config, self.site = config, site
        secret = pulumi.Output.secret(password)
        self.build(name, dn.Images(name, config.image, site, self), secret)

    def build(self, name: str, images: dn.Images, password: pulumi.Output[str]) -> None:
        raise NotImplementedError

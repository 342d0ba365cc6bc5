"""The engine tests' program: the real `infra` program, plus what makes the engine work.

`stacks.program.main()` runs unchanged; with every component disabled it creates no
resource, so no provider plugin is needed. On top of it this program exports the stack's
generated `infra:redisPassword` secret and manages one "thing" through a Python dynamic
provider (run by `pulumi-resource-pulumi-python`, which ships with the CLI), so the engine
has real state to write, diff, refresh, lock and delete:

- the thing is a JSON file under `<project root>/things/` (create writes it, read reads it back,
  delete removes it), so a test can cause drift that `refresh` must notice and check that
  `down` really deleted it;
- create/update sleep `e2e:sleepSeconds`, so a test can hold the stack's lock a while;
- the thing carries a random token, a secret output, so secret outputs are encrypted
  in the state for real.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi
from pulumi import dynamic

from stacks.program import main


class ThingProvider(dynamic.ResourceProvider):
    """Pickled by value into the state (dill) because it lives in `__main__`: the provider
    process never imports this file. Imports sit inside methods for the same reason."""

    def _write(self, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        import json
        import secrets
        import time

        time.sleep(float(props["seconds"]))
        outs = {**props, "token": secrets.token_urlsafe(24)}
        os.makedirs(props["directory"], exist_ok=True)
        with open(os.path.join(props["directory"], f"{id_}.json"), "w") as f:
            json.dump({"label": outs["label"], "token": outs["token"]}, f)
        return outs

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        import uuid

        id_ = uuid.uuid4().hex
        return dynamic.CreateResult(id_=id_, outs=self._write(id_, props))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        import json

        with open(os.path.join(props["directory"], f"{id_}.json")) as f:
            live = json.load(f)
        return dynamic.ReadResult(id_=id_, outs={**props, **live})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in ("label", "seconds", "directory") if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self._write(id_, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        os.remove(os.path.join(props["directory"], f"{id_}.json"))


class Thing(dynamic.Resource, module="e2e", name="Thing"):
    label: pulumi.Output[str]
    token: pulumi.Output[str]

    def __init__(self, name: str, label: str, seconds: float, directory: str) -> None:
        super().__init__(
            ThingProvider(),
            name,
            {"label": label, "seconds": seconds, "directory": directory, "token": None},
            pulumi.ResourceOptions(additional_secret_outputs=["token"]),
        )


main()
e2e = pulumi.Config("e2e")
thing = Thing(
    "thing",
    label=e2e.require("label"),
    seconds=e2e.get_float("sleepSeconds") or 0.0,
    directory=os.path.join(pulumi.get_root_directory(), "things"),
)
pulumi.export("redisPassword", pulumi.Config("infra").require_secret("redisPassword"))
pulumi.export("thingId", thing.id)
pulumi.export("thingLabel", thing.label)
pulumi.export("thingToken", thing.token)

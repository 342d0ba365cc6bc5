"""What every component shares, whatever it runs on."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from components.config_base import Exports


class InfraComponent(pulumi.ComponentResource):
    """A component whose stack outputs are its `exports_model`'s fields.

    Each field is read from the component's attribute of the same name, less
    the model's prefix (`redis_nodes` <- `self.nodes`), so the producer cannot
    export a name its readers do not know: the model is the one list of both.
    """

    exports_model: ClassVar[type[Exports]]

    def exports(self) -> dict[str, Any]:
        return self.exports_model.collect(self)

"""Test-wide settings: deterministic CLI rendering, no engine update checks."""

from __future__ import annotations

import os

os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
os.environ.setdefault("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
os.environ["NO_COLOR"] = "1"
os.environ["COLUMNS"] = "120"
os.environ["TERM"] = "dumb"

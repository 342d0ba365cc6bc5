"""The engine service: everything that drives Pulumi for a command.

`deploy` owns the Automation API (one `Deployer` per stack), `project` finds the
project and its state, `tools` and `shell` find the Pulumi CLI and spell
commands, `docker_provider` chooses the docker plugin, `plan` and `edge_plan`
turn engine events into the `preview --json` plan, `progress` renders them.
Commands import these modules inside their functions: the Automation API costs
about half a second to import, which `--help` and `validate` must not pay.
"""

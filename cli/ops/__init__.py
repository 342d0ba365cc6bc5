"""Operations clients for a deployed tier, usable from your own code.

Everything here works from a stack's outputs (`infra outputs STACK --json
--show-secrets`, or the Automation API's `stack.outputs()`), never imports
Pulumi, and talks to the tier from the Docker host:

- `cluster`: redis-py's cluster client with the host address map applied, and
  the CLUSTER INFO/NODES readers used by `status` and `drill`;
- `sentinel`: `RemappedSentinel`, redis-py's Sentinel client with announced
  addresses mapped to published ports, and the checks on a Sentinel topology;
- `health`: the checks behind `infra status`;
- `drill`: the measured failover drill behind `infra drill`.
"""

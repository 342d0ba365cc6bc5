"""Several Docker hosts on one machine: extra Docker engines, each in its own
Linux network namespace with its own IP address.

Why namespaces: tests of "several Docker hosts" behaviour (placement across
hosts, a host lost, a host's engine restarted) need engines that are reached at
different addresses and can fail independently. A network namespace gives each
extra engine its own interfaces, routes, iptables and published ports, so a
port published on host h1 (10.77.0.11) is a different socket from the same port
on h2 (10.77.0.12) and on the machine's main engine, and cutting one host's
link makes exactly that host unreachable. Only the network is separated: the
engines share the machine's filesystem, cgroups and kernel, which is enough for
these tests and needs nothing but root and Debian's docker.io.

Why `nsenter --net=...` and not `ip netns exec`: `ip netns exec` also unshares
the mount namespace and remounts /sys for the namespace, and dockerd started
that way misses the cgroup mounts below /sys/fs/cgroup and cannot run
containers. `nsenter --net` changes only the network namespace.

Where the traffic goes: every address is in namespaces and on a bridge this
run created. The hosts sit on 10.77.<s>.0/24 (s = subnet_index; the bridge
in the root namespace is 10.77.<s>.1), and host i's engine gives its
containers 10.78.<s*10+i>.0/24 inside host i's namespace. Nothing is routed
off the machine. One iptables rule (FORWARD, bridge to itself, ACCEPT) is
added in the root namespace because the main dockerd sets the FORWARD policy
to DROP and loads br_netfilter, which would drop traffic between two hosts.

Naming (Linux interface names are at most 15 characters), for prefix p (1 to
8 lower-case letters or digits) and host i (1 to 9):
    namespace      <p>-h<i>        file /run/netns/<p>-h<i>
    bridge         ihb-<p>
    veth (root)    ihv<i>-<p>      its peer, renamed eth0 inside the namespace
    engine dir     /run/ih/<p>/h<i>/ (docker.sock, dockerd.log, data, exec)

Use `netns_hosts(count)` in tests; `python -m tests.support.netns_hosts up N`
leaves N hosts running for hand experiments, `... down` removes them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker

BASE_DIR = Path("/run/ih")
NETNS_DIR = Path("/run/netns")
REQUIRED_TOOLS = ("nsenter", "unshare", "ip", "iptables", "dockerd", "umount")
MAX_HOSTS = 9
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
PREFIX_RE = re.compile(r"^[a-z0-9]{1,8}$")

# dockerd processes this Python process started, so they can be reaped after a
# kill (an unreaped child stays a zombie in /proc and looks alive).
_daemons: dict[Path, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class NetnsHost:
    """One extra Docker host: its engine listens on `docker_host` (a unix
    socket in `root`), its published ports on `address`. Index, prefix and
    subnet are derived from the names, so a host rebuilt from its fields
    (or by make_host in another process) controls the same host."""

    name: str
    netns: str
    address: str
    docker_host: str
    root: Path

    @property
    def index(self) -> int:
        return int(self.name.removeprefix("h"))

    @property
    def prefix(self) -> str:
        return self.netns.rsplit("-h", 1)[0]

    @property
    def subnet_index(self) -> int:
        return int(self.address.split(".")[2])

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host, timeout=60)

    def cut(self) -> None:
        """Host loss: the root side of its link goes down, so nothing reaches
        the host and the host reaches nothing (its engine keeps running)."""
        _run(["ip", "link", "set", veth_name(self.prefix, self.index), "down"])

    def restore(self) -> None:
        _run(["ip", "link", "set", veth_name(self.prefix, self.index), "up"])

    def stop_engine(self) -> None:
        """Power loss: SIGKILL dockerd, its containerd, the shims and every
        container process. Killing dockerd alone is not enough: the shims keep
        the containers running."""
        _kill_engine(self.root)

    def start_engine(self) -> None:
        """dockerd again on the same data; live-restore is off, so containers
        with restart policy unless-stopped/always are started again."""
        _start_dockerd(self)
        _wait_ready(self)


def netns_name(prefix: str, index: int) -> str:
    return f"{prefix}-h{index}"


def bridge_name(prefix: str) -> str:
    return f"ihb-{prefix}"


def veth_name(prefix: str, index: int) -> str:
    return f"ihv{index}-{prefix}"


def peer_name(prefix: str, index: int) -> str:
    return f"ihp{index}-{prefix}"


def prefix_dir(prefix: str) -> Path:
    return BASE_DIR / prefix


def subnet(subnet_index: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"10.77.{subnet_index}.0/24")


def host_address(subnet_index: int, index: int) -> str:
    return f"10.77.{subnet_index}.{10 + index}"


def gateway(subnet_index: int) -> str:
    return f"10.77.{subnet_index}.1"


def engine_bip(subnet_index: int, index: int) -> str:
    return f"10.78.{subnet_index * 10 + index}.1/24"


def make_host(prefix: str, subnet_index: int, index: int) -> NetnsHost:
    root = prefix_dir(prefix) / f"h{index}"
    return NetnsHost(
        name=f"h{index}",
        netns=netns_name(prefix, index),
        address=host_address(subnet_index, index),
        docker_host=f"unix://{root}/docker.sock",
        root=root,
    )


# --- public API ---------------------------------------------------------------


def create_hosts(count: int, prefix: str = "infra", subnet_index: int = 0) -> list[NetnsHost]:
    """`count` hosts h1..h<count>, engines answering, on 10.77.<subnet_index>.0/24.
    Leftovers of an earlier run with the same prefix are removed first; on any
    failure (KeyboardInterrupt too) everything created so far is removed again
    before the error propagates."""
    _check_args(count, prefix, subnet_index)
    check_environment()
    cleanup_stale(prefix)
    _check_subnet_free(subnet_index)
    hosts = [make_host(prefix, subnet_index, i) for i in range(1, count + 1)]
    try:
        _create_bridge(prefix, subnet_index)
        for host in hosts:
            _create_namespace(host)
            _start_dockerd(host)
        for host in hosts:
            _wait_ready(host)
    except BaseException:
        remove_hosts(hosts)
        raise
    return hosts


def remove_hosts(hosts: list[NetnsHost]) -> None:
    """Everything the hosts use, each step best effort: never raises, whatever
    state a failed create or an earlier removal left behind."""
    for host in hosts:
        _best_effort(_kill_engine, host.root)
    for host in hosts:
        _remove_host_network(host)
        _best_effort(_remove_dir, host.root)
    for prefix in sorted({h.prefix for h in hosts}):
        _best_effort(_remove_shared_when_unused, prefix)


@contextmanager
def netns_hosts(
    count: int, prefix: str = "infra", subnet_index: int = 0
) -> Iterator[list[NetnsHost]]:
    hosts: list[NetnsHost] = []
    try:
        hosts = create_hosts(count, prefix, subnet_index)
        yield hosts
    finally:
        remove_hosts(hosts)


def cleanup_stale(prefix: str = "infra") -> None:
    """Remove whatever a run with this prefix left: engines and their
    processes, namespaces, links, the bridge, the iptables rule, the dirs."""
    _check_prefix(prefix)
    _best_effort(lambda: _kill_processes(_engine_processes(str(prefix_dir(prefix)) + "/")))
    for ns in _namespaces(prefix):
        _best_effort(_remove_namespace, ns)
    for link in _links(prefix):
        _best_effort(_run, ["ip", "link", "del", link], False)
    _best_effort(_remove_shared, prefix)
    _best_effort(_remove_dir, prefix_dir(prefix))


def load_image(host: NetnsHost, tag: str) -> None:
    """Copy image `tag` from the machine's main engine into `host`'s engine
    (a host starts with no images and there is no registry)."""
    main = docker.from_env(timeout=120)
    target = host.client()
    try:
        data = main.images.get(tag).save(named=True)
        target.images.load(b"".join(data))
    finally:
        main.close()
        target.close()


def check_environment() -> None:
    """Fail loudly (these tests must not be skipped) when not root or a tool is
    missing."""
    if os.geteuid() != 0:
        raise RuntimeError("netns hosts need root (network namespaces, iptables, dockerd)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"netns hosts need {', '.join(missing)} on PATH "
            "(util-linux, iproute2, iptables, docker.io: scripts/setup-docker.sh)"
        )


# --- creation -----------------------------------------------------------------


def _check_args(count: int, prefix: str, subnet_index: int) -> None:
    _check_prefix(prefix)
    if not 1 <= count <= MAX_HOSTS:
        raise ValueError(f"count must be 1..{MAX_HOSTS}, not {count}")
    if not 0 <= subnet_index <= 24:
        raise ValueError(f"subnet_index must be 0..24, not {subnet_index}")


def _check_prefix(prefix: str) -> None:
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"prefix must be 1-8 lower-case letters/digits, not {prefix!r}")


def _check_subnet_free(subnet_index: int) -> None:
    """Two sets of hosts at once need different prefixes *and* subnet indexes:
    the same 10.77.<s>.0/24 on two bridges would make both unreachable."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    net = subnet(subnet_index)
    for line in out.stdout.splitlines():
        fields = line.split()
        address = ipaddress.IPv4Interface(fields[3]).ip
        if address in net:
            raise RuntimeError(
                f"{net} is already used by {fields[1]} ({address}): another set of netns "
                "hosts is running; give this one another subnet_index"
            )


def _create_bridge(prefix: str, subnet_index: int) -> None:
    bridge = bridge_name(prefix)
    _run(["ip", "link", "add", bridge, "type", "bridge"])
    _run(["ip", "addr", "add", f"{gateway(subnet_index)}/24", "dev", bridge])
    _run(["ip", "link", "set", bridge, "up"])
    _run(["iptables", "-I", "FORWARD", *_forward_rule(prefix)])


def _forward_rule(prefix: str) -> list[str]:
    bridge = bridge_name(prefix)
    return ["-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def _create_namespace(host: NetnsHost) -> None:
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    (NETNS_DIR / host.netns).touch()
    # unshare bind-mounts the new namespace on the file: it lives without a process.
    _run(["unshare", f"--net={NETNS_DIR / host.netns}", "true"])
    veth, peer = veth_name(host.prefix, host.index), peer_name(host.prefix, host.index)
    _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer])
    _run(["ip", "link", "set", veth, "master", bridge_name(host.prefix)])
    _run(["ip", "link", "set", veth, "up"])
    _run(["ip", "link", "set", peer, "netns", host.netns])
    inside = _in_ns(host.netns)
    _run([*inside, "ip", "link", "set", peer, "name", "eth0"])
    _run([*inside, "ip", "addr", "add", f"{host.address}/24", "dev", "eth0"])
    _run([*inside, "ip", "link", "set", "eth0", "up"])
    _run([*inside, "ip", "link", "set", "lo", "up"])
    _run([*inside, "ip", "route", "add", "default", "via", gateway(host.subnet_index)])


def _in_ns(netns: str) -> list[str]:
    return ["nsenter", f"--net={NETNS_DIR / netns}"]


def _start_dockerd(host: NetnsHost) -> None:
    """dockerd in the host's network namespace, with its own data, exec root
    (so its own containerd), socket, pidfile and an empty config file, so
    /etc/docker/daemon.json of the main engine does not apply."""
    host.root.mkdir(parents=True, exist_ok=True)
    config = host.root / "daemon.json"
    config.write_text("{}\n")
    (host.root / "docker.pid").unlink(missing_ok=True)
    # After a kill, the old containerd can linger as a zombie until init reaps
    # it; dockerd would take its pid file as "containerd still running" and time
    # out connecting to it instead of starting a new one.
    (host.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)
    command = [
        *_in_ns(host.netns),
        "dockerd",
        f"--config-file={config}",
        f"--data-root={host.root / 'data'}",
        f"--exec-root={host.root / 'exec'}",
        f"--pidfile={host.root / 'docker.pid'}",
        f"--host={host.docker_host}",
        f"--bip={engine_bip(host.subnet_index, host.index)}",
    ]
    with open(host.root / "dockerd.log", "ab") as log:
        _daemons[host.root] = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(host: NetnsHost, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        daemon = _daemons.get(host.root)
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(
                f"dockerd of {host.name} exited with {daemon.returncode}:\n{_log_tail(host)}"
            )
        try:
            client = docker.DockerClient(base_url=host.docker_host, timeout=5)
            try:
                client.ping()
                return
            finally:
                client.close()
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(
        f"dockerd of {host.name} did not answer on {host.docker_host} within "
        f"{timeout:.0f} s ({last}):\n{_log_tail(host)}"
    )


def _log_tail(host: NetnsHost, lines: int = 30) -> str:
    try:
        text = (host.root / "dockerd.log").read_text(errors="replace")
    except OSError as exc:
        return f"(no dockerd.log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# --- processes ----------------------------------------------------------------


def _kill_engine(root: Path) -> None:
    """SIGKILL every process of the engine in `root` and wait until they are
    gone. Used both for a power-loss-like stop and for teardown: a graceful
    dockerd shutdown would stop containers one by one, which only costs time
    when everything is deleted afterwards."""
    marker = str(root) + "/"
    _kill_processes(_engine_processes(marker))
    daemon = _daemons.pop(root, None)
    if daemon is not None:
        with suppress(Exception):
            daemon.wait(timeout=STOP_TIMEOUT)


def _engine_processes(marker: str) -> set[int]:
    """dockerd, containerd and the shims whose command line names a dir under
    `marker`, plus all their descendants (containers, docker-proxy). Shims are
    daemonized (not below dockerd), so the command line finds them; container
    processes are the shims' children. Matching only these program names keeps
    a shell that merely mentions the dir alive."""
    table = _process_table()
    seeds = {
        pid
        for pid, (_, argv) in table.items()
        if argv
        and Path(argv[0]).name.startswith(("dockerd", "containerd"))
        and any(marker in arg or arg == marker.rstrip("/") for arg in argv)
    }
    return _with_descendants(seeds, table)


def _process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) for every live (not zombie) process."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        table[int(entry.name)] = (int(fields[1]), [a for a in argv if a])
    return table


def _with_descendants(seeds: set[int], table: dict[int, tuple[int, list[str]]]) -> set[int]:
    found = set(seeds)
    changed = True
    while changed:
        children = {pid for pid, (ppid, _) in table.items() if ppid in found} - found
        found |= children
        changed = bool(children)
    found.discard(os.getpid())
    return found


def _kill_processes(pids: Iterable[int], timeout: float = STOP_TIMEOUT) -> None:
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending:
        for pid in pending:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pending)
        time.sleep(0.05)
        alive = set(_process_table())
        pending &= alive
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(pending)} survived SIGKILL")


def _reap(pids: set[int]) -> None:
    """Collect killed processes that are our own children (dockerd started by
    this process), so they do not linger as zombies."""
    for root, daemon in list(_daemons.items()):
        if daemon.pid in pids:
            with suppress(Exception):
                daemon.wait(timeout=1)
            _daemons.pop(root, None)


# --- removal ------------------------------------------------------------------


def _remove_host_network(host: NetnsHost) -> None:
    _best_effort(
        lambda: _run(["ip", "link", "del", veth_name(host.prefix, host.index)], check=False)
    )
    _best_effort(lambda: _remove_namespace(host.netns))


def _remove_namespace(netns: str) -> None:
    path = NETNS_DIR / netns
    while _is_mounted(path):
        _run(["umount", str(path)], check=False)
        if _is_mounted(path):
            _run(["umount", "-l", str(path)], check=False)
    path.unlink(missing_ok=True)


def _remove_shared_when_unused(prefix: str) -> None:
    if not _host_dirs(prefix) and not _namespaces(prefix):
        _remove_shared(prefix)


def _remove_shared(prefix: str) -> None:
    """The bridge and the iptables rule, once no host of the prefix is left."""
    for _ in range(10):
        if _run(["iptables", "-C", "FORWARD", *_forward_rule(prefix)], check=False) != 0:
            break
        _run(["iptables", "-D", "FORWARD", *_forward_rule(prefix)], check=False)
    if _link_exists(bridge_name(prefix)):
        _best_effort(lambda: _run(["ip", "link", "del", bridge_name(prefix)], check=False))


def _remove_dir(root: Path) -> None:
    """Unmount what dockerd left mounted below `root` (overlay layers, its
    containers' namespace files), deepest first, then delete the dir."""
    for point in sorted(_mounts_under(root), key=len, reverse=True):
        _run(["umount", "-l", point], check=False)
    shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        raise RuntimeError(f"{root} could not be removed")
    with suppress(OSError):
        root.parent.rmdir()  # the prefix dir, once its last host is gone


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefix) or point == str(root):
            points.append(point)
    return points


def _is_mounted(path: Path) -> bool:
    return str(path) in {line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()}


# --- what exists --------------------------------------------------------------


def _namespaces(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(prefix)}-h\d+$")
    return sorted(p.name for p in NETNS_DIR.iterdir() if pattern.match(p.name))


def _links(prefix: str) -> list[str]:
    """Root-namespace veths of the prefix (deleting one deletes its peer)."""
    pattern = re.compile(rf"^ih[vp]\d+-{re.escape(prefix)}$")
    return [name for name in _link_names() if pattern.match(name)]


def _link_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def _link_exists(name: str) -> bool:
    return name in _link_names()


def _host_dirs(prefix: str) -> list[Path]:
    base = prefix_dir(prefix)
    return sorted(base.glob("h*")) if base.is_dir() else []


# --- small helpers ------------------------------------------------------------


def _run(command: list[str], check: bool = True) -> int:
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.returncode


def _best_effort(step: Callable[..., object], *args: object) -> None:
    try:
        step(*args)
    except Exception as exc:
        print(f"netns_hosts: cleanup step failed: {exc}", file=sys.stderr)


# --- CLI ----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    usage = "usage: python -m tests.support.netns_hosts up N [PREFIX [SUBNET]] | down [PREFIX]"
    try:
        if len(argv) >= 2 and argv[0] == "up":
            prefix = argv[2] if len(argv) > 2 else "infra"
            subnet_index = int(argv[3]) if len(argv) > 3 else 0
            for host in create_hosts(int(argv[1]), prefix, subnet_index):
                print(host.name, host.address, host.docker_host)
            return 0
        if argv and argv[0] == "down":
            cleanup_stale(*argv[1:2])
            return 0
    except (RuntimeError, ValueError) as exc:
        print(f"netns_hosts: {exc}", file=sys.stderr)
        return 1
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env bash
# Build a small Redis image from Debian's redis-server binaries.
#
# No image registry is reachable on the project's build machines, so the
# official `redis` image cannot be pulled there. This image behaves like it for
# `redis-server /path/redis.conf`, `redis-sentinel /path/sentinel.conf` and
# `redis-cli`, and carries a static busybox for `sh`, `sed` and `sleep` (used by
# healthchecks and the cluster init script). Tag: $INFRA_REDIS_IMAGE or
# infra-local/redis:debian.
set -euo pipefail

tag="${INFRA_REDIS_IMAGE:-infra-local/redis:debian}"
say() { printf 'build-redis-image: %s\n' "$*" >&2; }

need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_pkgs+=(redis-tools)
[ -e /usr/bin/redis-sentinel ] || need_pkgs+=(redis-sentinel)
static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
static_busybox || need_pkgs+=(busybox-static)
# Not for the image: GNU time, with which a test measures the Mongo ping probe's memory.
[ -x /usr/bin/time ] || need_pkgs+=(time)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "missing ${need_pkgs[*]}: install Debian's redis-server, redis-tools, redis-sentinel and busybox-static, or set INFRA_REDIS_IMAGE to an image you have"
        exit 4
    fi
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get update -qq
    apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/usr/bin" "$ctx/root/bin" "$ctx/root/data" "$ctx/root/tmp" "$ctx/root/etc"
server="$(readlink -f /usr/bin/redis-server)"
cp "$server" "$ctx/root/usr/bin/redis-server"
ln -s redis-server "$ctx/root/usr/bin/redis-sentinel"
cp /usr/bin/redis-cli "$ctx/root/usr/bin/redis-cli"
cp /bin/busybox "$ctx/root/bin/busybox"
for applet in sh sed sleep cat grep echo ls date timeout nc mkdir chmod chown tr cut wc; do
    ln -s busybox "$ctx/root/bin/$applet"
done
# Shared libraries the two binaries need, at the paths ldd reports.
for lib in $(ldd "$server" /usr/bin/redis-cli | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
done
# Debian links /lib -> usr/lib; mirror the loader path.
if [ -e /lib64/ld-linux-x86-64.so.2 ]; then
    mkdir -p "$ctx/root/lib64"
    cp -L /lib64/ld-linux-x86-64.so.2 "$ctx/root/lib64/"
fi
printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:999:999:redis:/data:/bin/sh\n' >"$ctx/root/etc/passwd"
printf 'root:x:0:\nredis:x:999:\n' >"$ctx/root/etc/group"
chmod 1777 "$ctx/root/tmp"

version="$(/usr/bin/redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
ENV PATH=/usr/bin:/bin
WORKDIR /data
LABEL org.opencontainers.image.title="infra local redis" \
      org.opencontainers.image.version="$version" \
      org.opencontainers.image.description="Debian redis-server $version for infra's local stack and tests"
EXPOSE 6379
CMD ["redis-server"]
DOCKERFILE
start=$(date +%s.%N)
# The legacy builder is enough for a COPY-only image (and needs no buildx plugin);
# its deprecation notice is only shown if the build fails.
if ! DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2
    exit 1
fi
end=$(date +%s.%N)
say "built $tag (redis $version) in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s"
docker run --rm "$tag" redis-server --version >/dev/null
echo "$tag"

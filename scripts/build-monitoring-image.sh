#!/usr/bin/env bash
# Build the monitoring image from Debian's Prometheus, Redis exporter and Alertmanager.
#
# Like the Redis image (scripts/build-redis-image.sh), no registry is needed: the
# image is assembled `FROM scratch` out of Debian's binaries, the shared
# libraries they load and a static busybox (`sh` and `wget` for healthchecks).
# One image holds `prometheus`, `promtool`, `prometheus-redis-exporter`,
# `prometheus-alertmanager` and `amtool`; each container runs one of them.
#
# The packages are downloaded (`apt-get download`, cached in .tools/debs/) and
# unpacked, never installed: installing them would start three daemons on this
# host through their init scripts. Tag: $INFRA_MONITORING_IMAGE or
# infra-local/monitoring:debian.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tag="${INFRA_MONITORING_IMAGE:-infra-local/monitoring:debian}"
debs="$root/.tools/debs"
packages=(prometheus prometheus-redis-exporter prometheus-alertmanager)
say() { printf 'build-monitoring-image: %s\n' "$*" >&2; }

need_root_apt() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "$1"
        exit 4
    fi
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
}

static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
if ! static_busybox; then
    need_root_apt "missing a static /bin/busybox: install Debian's busybox-static"
    say "installing busybox-static"
    apt-get update -qq
    apt-get install -y -qq busybox-static >/dev/null
fi

# The cached .deb of each package (downloaded once).
cached() { compgen -G "$debs/${1}_*.deb" | head -n 1; }
mkdir -p "$debs"
for pkg in "${packages[@]}"; do
    [ -n "$(cached "$pkg" || true)" ] && continue
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        need_root_apt "apt does not know $pkg: run apt-get update, or set INFRA_MONITORING_IMAGE to an image you have"
        apt-get update -qq
    fi
    say "downloading $pkg"
    (cd "$debs" && apt-get download -qq "$pkg" >/dev/null 2>&1) || {
        say "apt-get download $pkg failed"
        exit 4
    }
done

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
for pkg in "${packages[@]}"; do
    dpkg-deb -x "$(cached "$pkg")" "$ctx/pkgs"
done
img="$ctx/root"
mkdir -p "$img/usr/bin" "$img/bin" "$img/etc/prometheus" "$img/prometheus" \
    "$img/alertmanager" "$img/tmp"
binaries=(prometheus promtool prometheus-redis-exporter prometheus-alertmanager amtool)
for bin in "${binaries[@]}"; do
    cp "$ctx/pkgs/usr/bin/$bin" "$img/usr/bin/$bin"
done
# Debian's Alertmanager reads its notification templates from here.
mkdir -p "$img/usr/share/prometheus/alertmanager"
cp "$ctx"/pkgs/usr/share/prometheus/alertmanager/*.tmpl "$img/usr/share/prometheus/alertmanager/"
cp /bin/busybox "$img/bin/busybox"
for applet in sh wget sed cat grep echo ls mkdir sleep cp rm; do
    ln -s busybox "$img/bin/$applet"
done
# Shared libraries the binaries need (glibc and its loader), at the paths ldd reports.
for lib in $(cd "$img/usr/bin" && ldd "${binaries[@]}" |
    awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    mkdir -p "$img$(dirname "$lib")"
    cp -L "$lib" "$img$lib"
done
if [ -e /lib64/ld-linux-x86-64.so.2 ]; then
    mkdir -p "$img/lib64"
    cp -L /lib64/ld-linux-x86-64.so.2 "$img/lib64/"
fi
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
    >"$img/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$img/etc/group"
chmod 1777 "$img/tmp"

version_of() { dpkg-deb -f "$(cached "$1")" Version; }
prom="$(version_of prometheus)"
exporter="$(version_of prometheus-redis-exporter)"
alertmanager="$(version_of prometheus-alertmanager)"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
ENV PATH=/usr/bin:/bin
WORKDIR /prometheus
LABEL org.opencontainers.image.title="infra local monitoring" \
      org.opencontainers.image.version="$prom" \
      org.opencontainers.image.description="Debian prometheus $prom, prometheus-redis-exporter $exporter, prometheus-alertmanager $alertmanager for infra's local stack and tests"
CMD ["prometheus", "--version"]
DOCKERFILE
start=$(date +%s.%N)
# The legacy builder is enough for a COPY-only image (and needs no buildx plugin).
if ! DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2
    exit 1
fi
end=$(date +%s.%N)
docker run --rm "$tag" promtool --version >/dev/null
say "built $tag (prometheus $prom, redis exporter $exporter, alertmanager $alertmanager) in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s"
echo "$tag"

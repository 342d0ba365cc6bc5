#!/usr/bin/env bash
# Make a Pulumi CLI available, offline if need be.
#
# Order of attempts (the first that works wins):
#   1. a `pulumi` already on PATH whose `pulumi version` prints a semver;
#   2. a project-local build/install in .tools/pulumi/bin that is the pinned version;
#   3. the official installer (get.pulumi.com) into .tools/pulumi;
#   4. a build from the Go module proxy via the wrapper module tools/pulumi
#      (and tools/pulumi-language-python, if present), into .tools/pulumi/bin.
#
# The last line printed on success is `PULUMI_BIN_DIR=<abs path>`; put that
# directory first on PATH. Re-running is cheap: step 2 reuses the build.
#
# Environment knobs (all optional):
#   ENSURE_PULUMI_IGNORE_PATH=1      skip step 1 (ignore a pulumi on PATH)
#   ENSURE_PULUMI_SKIP_INSTALLER=1   skip step 3 (no network attempt to get.pulumi.com)
#   ENSURE_PULUMI_FORCE_BUILD=1      skip steps 1-3: use the Go build (rebuilds what is missing or
#                                    not the pinned version; rm -rf .tools/pulumi for a clean rebuild)
#   GOMODCACHE / GOCACHE             honoured as usual by go (defaults are shared with CI)
set -euo pipefail

start_ts=$(date +%s)
log() { printf 'ensure-pulumi: %s\n' "$*" >&2; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRAPPER_DIR="$REPO_ROOT/tools/pulumi"
LANGHOST_DIR="$REPO_ROOT/tools/pulumi-language-python"
INSTALL_ROOT="$REPO_ROOT/.tools/pulumi"
BIN_DIR="$INSTALL_ROOT/bin"

# Single source of truth for the version: the pkg/v3 requirement of the wrapper module.
PULUMI_VERSION="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit }' "$WRAPPER_DIR/go.mod")"
if [[ ! "$PULUMI_VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    log "cannot read the pinned pulumi version from $WRAPPER_DIR/go.mod (got '$PULUMI_VERSION')"
    exit 1
fi

SEMVER_RE='^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$'

# Prints the version reported by the given pulumi binary (empty if it fails).
pulumi_version_of() {
    local out
    out="$(PULUMI_SKIP_UPDATE_CHECK=true "$1" version 2>/dev/null | head -n1 | tr -d '[:space:]')" || true
    printf '%s' "$out"
}

finish() {
    local dir="$1" how="$2"
    local elapsed=$(( $(date +%s) - start_ts ))
    log "using pulumi $(pulumi_version_of "$dir/pulumi") from $dir ($how) in ${elapsed}s"
    if [[ ! -x "$dir/pulumi-language-python" ]] && ! command -v pulumi-language-python >/dev/null 2>&1; then
        log "note: no pulumi-language-python next to it or on PATH: Python programs run by the CLI"
        log "      (pulumi up in a project dir, Automation API work_dir=) will fail; inline Automation API programs work"
    fi
    echo "elapsed_seconds=${elapsed}"
    echo "PULUMI_BIN_DIR=${dir}"
    exit 0
}

# Stamp of our own language host build: pinned version + hash of its sources (rebuild when they change).
langhost_stamp() {
    printf '%s %s' "$PULUMI_VERSION" \
        "$(cat "$LANGHOST_DIR/main.go" "$LANGHOST_DIR/go.mod" "$LANGHOST_DIR/go.sum" | sha256sum | cut -c1-16)"
}

langhost_ok() {
    local stamp
    stamp="$(cat "$BIN_DIR/.pulumi-language-python.version" 2>/dev/null || true)"
    [[ -x "$BIN_DIR/pulumi-language-python" && -f "$BIN_DIR/pulumi-language-python-exec" ]] || return 1
    [[ "$stamp" == "$(langhost_stamp)" || "$stamp" == "official $PULUMI_VERSION" ]]
}

local_install_complete() {
    [[ -x "$BIN_DIR/pulumi" ]] || return 1
    [[ "$(pulumi_version_of "$BIN_DIR/pulumi")" == "$PULUMI_VERSION" ]] || return 1
    [[ -x "$BIN_DIR/pulumi-resource-pulumi-python" ]] || return 1
    if [[ -f "$LANGHOST_DIR/go.mod" ]]; then
        langhost_ok || return 1
    fi
    return 0
}

force_build="${ENSURE_PULUMI_FORCE_BUILD:-0}"

# 1. pulumi on PATH ----------------------------------------------------------
if [[ "$force_build" != 1 && "${ENSURE_PULUMI_IGNORE_PATH:-0}" != 1 ]] && command -v pulumi >/dev/null 2>&1; then
    path_pulumi="$(command -v pulumi)"
    path_version="$(pulumi_version_of "$path_pulumi")"
    if [[ "$path_version" =~ $SEMVER_RE ]]; then
        if [[ "$path_version" != "$PULUMI_VERSION" ]]; then
            log "note: pulumi on PATH is $path_version, pinned is $PULUMI_VERSION (using the PATH one)"
        fi
        finish "$(cd "$(dirname "$path_pulumi")" && pwd)" "found on PATH"
    fi
    log "pulumi on PATH ($path_pulumi) did not print a semver ('$path_version'); ignoring it"
fi

# 2. project-local install ---------------------------------------------------
if [[ "$force_build" != 1 ]] && local_install_complete; then
    finish "$BIN_DIR" "reused project-local install"
fi

mkdir -p "$BIN_DIR"

# 3. official installer -------------------------------------------------------
if [[ "$force_build" != 1 && "${ENSURE_PULUMI_SKIP_INSTALLER:-0}" != 1 ]] && command -v curl >/dev/null 2>&1; then
    installer="$(mktemp)"
    if curl -fsSL --connect-timeout 10 --max-time 120 -o "$installer" https://get.pulumi.com 2>/dev/null \
        && sh "$installer" --version "${PULUMI_VERSION#v}" --install-root "$INSTALL_ROOT" --no-edit-path >&2 \
        && [[ "$(pulumi_version_of "$BIN_DIR/pulumi")" == "$PULUMI_VERSION" ]]; then
        rm -f "$installer"
        # The official tarball ships the upstream language host and launcher scripts.
        echo "official $PULUMI_VERSION" > "$BIN_DIR/.pulumi-language-python.version"
        finish "$BIN_DIR" "official installer"
    fi
    rm -f "$installer"
    log "official installer unavailable (get.pulumi.com unreachable or install failed); building from the Go module proxy"
fi

# 4. build from the Go module proxy -----------------------------------------
if ! command -v go >/dev/null 2>&1; then
    if [[ -x /usr/local/go/bin/go ]]; then
        PATH="/usr/local/go/bin:$PATH"
    else
        log "FAILED: pulumi is not on PATH, get.pulumi.com is unreachable and there is no Go toolchain to build it"
        exit 1
    fi
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
VERSION_LDFLAG="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}"

# go_build <module dir> <package> <output name> <time it takes>: builds to a temp file,
# then moves it in place.
go_build() {
    local moddir="$1" pkg="$2" out="$BIN_DIR/$3"
    local tmp="$out.tmp.$$"
    log "building $3 from $moddir at $PULUMI_VERSION with $(go env GOVERSION) ($4) ..."
    (cd "$moddir" && go build -trimpath -buildvcs=false -ldflags "-s -w $VERSION_LDFLAG" -o "$tmp" "$pkg") || {
        rm -f "$tmp"
        log "FAILED: go build of $pkg in $moddir (see the errors above)"
        exit 1
    }
    mv -f "$tmp" "$out"
}

if [[ "$(pulumi_version_of "$BIN_DIR/pulumi" 2>/dev/null || true)" != "$PULUMI_VERSION" ]]; then
    go_build "$WRAPPER_DIR" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi \
        "8-12 min on 2 cores with empty Go caches"
fi

# Python-side launcher scripts ship in the sdk/v3 module: copy them next to the CLI.
SDK_DIR="$(cd "$WRAPPER_DIR" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
if [[ -z "$SDK_DIR" || ! -f "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" ]]; then
    (cd "$WRAPPER_DIR" && go mod download github.com/pulumi/pulumi/sdk/v3)
    SDK_DIR="$(cd "$WRAPPER_DIR" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
fi
install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$BIN_DIR/pulumi-resource-pulumi-python"
install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$BIN_DIR/pulumi-language-python-exec"

# Python language host (only if its wrapper module exists).
if [[ -f "$LANGHOST_DIR/go.mod" ]]; then
    if ! langhost_ok; then
        go_build "$LANGHOST_DIR" . pulumi-language-python "about 2 min on 2 cores"
        langhost_stamp > "$BIN_DIR/.pulumi-language-python.version"
    fi
fi

built_version="$(pulumi_version_of "$BIN_DIR/pulumi")"
if [[ "$built_version" != "$PULUMI_VERSION" ]]; then
    log "FAILED: built pulumi reports '$built_version', expected $PULUMI_VERSION"
    exit 1
fi
finish "$BIN_DIR" "built from the Go module proxy"

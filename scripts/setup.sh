#!/usr/bin/env bash
# Installs everything aslgate needs on a fresh Debian machine (idempotent):
# system packages (bubblewrap, util-linux's setpriv, clang + sanitizer/fuzzer runtimes, llvm-symbolizer,
# patch), the unprivileged system user the sandbox runs as (aslgate-sbx, no home, no shell, no login),
# and a Python virtualenv in .venv with the project installed.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }

pkgs=$(missing bubblewrap util-linux passwd clang llvm patch binutils python3 python3-venv ca-certificates \
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
if [ -n "$pkgs" ]; then
  echo "setup: installing system packages: $pkgs"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
clang_major=$(clang -dumpversion | cut -d. -f1)
rt=$(missing "libclang-rt-${clang_major}-dev")
if [ -n "$rt" ]; then
  echo "setup: installing $rt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$rt" >/dev/null
fi

# the sandbox's own host identity: root inside a sandbox is this unprivileged user outside (docs/sandbox.md)
SBX_USER=${ASLGATE_SANDBOX_USER:-aslgate-sbx}
if ! getent passwd "$SBX_USER" >/dev/null; then
  echo "setup: creating the sandbox user $SBX_USER"
  $SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "aslgate sandbox" "$SBX_USER"
fi
$SUDO passwd -l "$SBX_USER" >/dev/null 2>&1 || true
if [ "$(sysctl -n kernel.unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
  echo "setup: enabling unprivileged user namespaces (bubblewrap needs them to run as $SBX_USER)"
  $SUDO sysctl -q -w kernel.unprivileged_userns_clone=1
  echo kernel.unprivileged_userns_clone=1 | $SUDO tee /etc/sysctl.d/50-aslgate-userns.conf >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.aslgate-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing aslgate into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev,ray]"
  echo "$want" > "$stamp"
fi

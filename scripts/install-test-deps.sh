#!/usr/bin/env bash
# Installs what the tests need for real, only when missing: PostgreSQL server binaries (Debian's
# `postgresql`, i.e. 15 on bookworm; the tests start a throwaway server from /usr/lib/postgresql/*/bin,
# see src/closesync/testing/postgres.py) and Debian's Chromium.
# PostgreSQL is not needed when CLOSESYNC_TEST_PG_URL names a server to use instead.
# Without apt-get it only prints what is missing: the tests then say so (and fail when CI=true).
set -euo pipefail
need=()
if [ -z "${CLOSESYNC_TEST_PG_URL:-}" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
    need+=(postgresql)
  elif [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    need+=(postgresql-common)  # provides the `postgres` OS user the server runs as when we are root
  fi
fi
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]} and no apt-get here; install them yourself" \
       "(or set CLOSESYNC_TEST_PG_URL for PostgreSQL)" >&2
  exit 0
fi
echo "installing: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

#!/usr/bin/env bash
# The whole test suite. Installs what the tests need when it is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v scepclient >/dev/null 2>&1 || need+=(scep)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)           # packaging/test-deb.sh
command -v adduser >/dev/null 2>&1 || need+=(adduser)     # the package's postinst
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

cargo nextest run --workspace --no-fail-fast "$@"

# The Debian package: build, install, start, purge. Only for a full run (no test filter).
if [ $# -eq 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    packaging/test-deb.sh
  elif command -v sudo >/dev/null 2>&1; then
    sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME packaging/test-deb.sh
  else
    echo "tests/run.sh: not root and no sudo: skipping packaging/test-deb.sh" >&2
  fi
fi

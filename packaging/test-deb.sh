#!/usr/bin/env bash
# Builds the .deb, installs it with dpkg, checks the user, files and conffile, verifies the
# unit, runs the unit's ExecStart as the `orchard` user (through systemd when systemd is PID 1
# here, else directly with the environment systemd would give it), checks /healthz, stops it,
# and purges the package. Needs root. Leaves the machine as it found it.
#
# Binary: an up-to-date release build is packaged when present; otherwise the debug build (the
# test suite has just built it), so CI does not pay for a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test-deb: $*"; }
fail() { echo "test-deb: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i, useradd)"
if dpkg -s orchard >/dev/null 2>&1; then
    fail "an orchard package is already installed on this machine; not touching it"
fi
[ -e /var/lib/orchard ] && fail "/var/lib/orchard exists; not touching it"

# Pinned so that a new cargo-deb cannot change the package (or refuse the dev profile) under CI.
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    say "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked "cargo-deb@$CARGO_DEB_VERSION"
fi

release=target/release/orchard
if [ -x "$release" ] && [ -z "$(find src migrations Cargo.toml Cargo.lock -newer "$release" -print -quit)" ]; then
    profile=release
else
    profile=dev
    cargo build --quiet --bin orchard
fi
deb=target/debian/orchard-test.deb
say "building $deb from the $profile binary"
cargo deb --quiet --profile "$profile" --no-build --fast -o "$deb" 2>&1 | grep -v "dev profile is not supported\|To enable debug symbols" || true
[ -f "$deb" ] || fail "cargo deb produced no package"

user_existed=no
getent passwd orchard >/dev/null && user_existed=yes
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    dpkg --purge orchard >/dev/null 2>&1 || true
    rm -rf /var/lib/orchard /run/systemd/system/orchard.service.d
    if [ "$user_existed" = no ] && getent passwd orchard >/dev/null; then
        userdel orchard 2>/dev/null || true
        getent group orchard >/dev/null && groupdel orchard 2>/dev/null || true
    fi
}
trap cleanup EXIT

say "installing"
dpkg -i "$deb" >/dev/null

getent passwd orchard >/dev/null || fail "no orchard user"
[ "$(getent passwd orchard | cut -d: -f7)" = /usr/sbin/nologin ] || fail "orchard user has a login shell"
[ "$(id -u orchard)" -lt 1000 ] || fail "orchard is not a system user"
[ -x /usr/bin/orchard ] || fail "/usr/bin/orchard missing"
[ -f /usr/lib/systemd/system/orchard.service ] || fail "unit missing"
dpkg-query -W -f='${Conffiles}\n' orchard | grep -q '/etc/orchard/orchard.toml' || fail "orchard.toml is not a conffile"
[ "$(stat -c '%a %U:%G' /etc/orchard/orchard.toml)" = "640 root:orchard" ] || fail "orchard.toml permissions: $(stat -c '%a %U:%G' /etc/orchard/orchard.toml)"
/usr/bin/orchard --config /etc/orchard/orchard.toml config show >/dev/null || fail "the installed binary cannot read the shipped config"

if command -v systemd-analyze >/dev/null; then
    say "systemd-analyze verify"
    systemd-analyze verify /usr/lib/systemd/system/orchard.service || fail "systemd-analyze verify"
fi

exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/orchard.service)
log=$(mktemp)
if [ "$(cat /proc/1/comm)" = systemd ]; then
    say "starting the unit with systemd"
    mkdir -p /run/systemd/system/orchard.service.d
    printf '[Service]\nEnvironment=ORCHARD_SERVER_LISTEN=127.0.0.1:0\n' >/run/systemd/system/orchard.service.d/test.conf
    systemctl daemon-reload
    systemctl start orchard || { journalctl -u orchard --no-pager | tail -30; fail "systemctl start"; }
    for _ in $(seq 1 60); do
        journalctl -u orchard --no-pager >"$log" 2>/dev/null
        grep -q 'Orchard is listening on' "$log" && break
        sleep 1
    done
else
    say "systemd is not PID 1 here: running ExecStart ($exec_start) as orchard, as systemd would"
    [ "$(stat -c '%U %a' /var/lib/orchard)" = "orchard 700" ] || fail "/var/lib/orchard: $(stat -c '%U %a' /var/lib/orchard)"
    (cd / && exec setpriv --reuid orchard --regid orchard --init-groups \
        env -i PATH=/usr/bin:/bin STATE_DIRECTORY=/var/lib/orchard CONFIGURATION_DIRECTORY=/etc/orchard \
        ORCHARD_SERVER_LISTEN=127.0.0.1:0 $exec_start) >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do
        grep -q 'Orchard is listening on' "$log" && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$log"; fail "the service exited"; }
        sleep 0.1
    done
fi
port=$(sed -n 's/.*Orchard is listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -1)
[ -n "$port" ] || { cat "$log"; fail "the service did not start listening"; }

say "checking /healthz on port $port"
body=$(curl -sS --max-time 10 --cacert /var/lib/orchard/pki/ca.crt.pem "https://localhost:$port/healthz")
[ "$body" = ok ] || fail "/healthz answered: $body"
setpriv --reuid orchard --regid orchard --init-groups env STATE_DIRECTORY=/var/lib/orchard \
    /usr/bin/orchard --listen "127.0.0.1:$port" healthcheck >/dev/null || fail "orchard healthcheck"
# Operator commands from a root shell find the service's data through the shipped config.
backup=$(mktemp -u /tmp/orchard-test-backup.XXXXXX)
/usr/bin/orchard backup "$backup" >/dev/null || fail "orchard backup while serving"
tar tf "$backup" | grep -q '^pki/ca.key.pem$' || fail "the backup lacks the CA key"
rm -f "$backup"
[ "$(stat -c '%U %a' /var/lib/orchard/pki/ca.key.pem)" = "orchard 600" ] || fail "CA key ownership/mode: $(stat -c '%U %a' /var/lib/orchard/pki/ca.key.pem)"

say "stopping"
if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid"
    status=0
    wait "$server_pid" || status=$?
    server_pid=
    [ "$status" -eq 0 ] || { cat "$log"; fail "the service exited with $status on SIGTERM"; }
else
    systemctl stop orchard
fi

say "purging"
dpkg --purge orchard >/dev/null
[ ! -e /usr/bin/orchard ] || fail "/usr/bin/orchard left behind"
[ ! -e /etc/orchard/orchard.toml ] || fail "the conffile survived a purge"
rm -f "$log"
say "ok: the package installs, its service starts and answers /healthz, and it purges cleanly"

#!/bin/sh
# Run a command with no network but loopback, where this machine allows it (root, unshare and ip):
# the quick profile must never touch the network, and this proves it. Elsewhere run the command
# as it is and say so.
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
  exec unshare -n sh -c 'ip link set lo up && COURSE_NETWORK_ISOLATED=1 exec "$@"' sh "$@"
fi
echo "note: cannot cut this run off from the network here (needs root and unshare); running with the network on" >&2
exec "$@"

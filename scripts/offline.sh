#!/bin/sh
# Run a command with no network but loopback: the quick profile must never touch the network, and
# this proves it. It needs unshare and ip, run as root or through sudo (GitHub's runners: a user
# with password-less sudo; the command itself then runs as that user again, in the cut-off
# namespace). Where neither works the command runs with the network on and says so; under CI
# ($CI set) that is an error instead, so a green CI run means the run was cut off.
if command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && COURSE_NETWORK_ISOLATED=1 exec "$@"' sh "$@"
  fi
  if command -v sudo >/dev/null 2>&1 && sudo -n unshare -n true 2>/dev/null; then
    exec sudo -n --preserve-env unshare -n sh -c \
      'ip link set lo up && user=$1 group=$2 path=$3 && shift 3 &&
       exec sudo -n --preserve-env -u "#$user" -g "#$group" env PATH="$path" COURSE_NETWORK_ISOLATED=1 "$@"' \
      sh "$(id -u)" "$(id -g)" "$PATH" "$@"
  fi
fi
why="cannot cut this run off from the network here: it needs unshare and ip, as root or through password-less sudo"
case "${CI:-}" in
  ""|0|false) echo "note: $why; running with the network on" >&2 ;;
  *) echo "error: $why. Under CI (CI=$CI) the run must be cut off, so it stops here." >&2; exit 1 ;;
esac
exec "$@"

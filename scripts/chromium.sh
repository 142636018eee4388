#!/bin/sh
# Install what the browser tests need (make test runs this): the distribution's Chromium, never a
# downloaded browser build, and a font for the Chinese key terms in its screenshots. Uses apt-get
# as root or through password-less sudo (GitHub's runners). Where neither works the browser tests
# are skipped and say why; under CI ($CI set) that is an error instead, so CI always runs them.
FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_chromium && [ -e "$FONT" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root="sudo -n"
else
  as_root="none"
fi
if [ "$as_root" != none ] && command -v apt-get >/dev/null 2>&1; then
  packages=fonts-wqy-zenhei
  have_chromium || packages="chromium $packages"
  $as_root apt-get update -qq && $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null \
    && exit 0
fi

why="Chromium or its CJK font is missing and could not be installed here (needs apt-get, as root or through password-less sudo)"
case "${CI:-}" in
  ""|0|false) echo "note: $why: the browser tests will be skipped." >&2 ;;
  *) echo "error: $why. Under CI (CI=$CI) the browser tests must run." >&2; exit 1 ;;
esac

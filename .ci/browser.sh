#!/usr/bin/env bash
# Headless Chromium and chromedriver for the browser tests (tests/ui.rs), from Debian's packages.
#
# Installs them with apt-get if missing (with a CJK font, so screenshots of the Chinese UI are
# legible), and prints
#   export FOREST_TEST_CHROMEDRIVER=/usr/bin/chromedriver
# on stdout, so `.ci/run` can `eval "$(.ci/browser.sh)"`. Everything else goes to stderr. Safe to
# run twice. If they cannot be installed nothing is printed, and the UI tests say SKIPPED.
set -u

log() { echo "browser.sh: $*" >&2; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >&2 || log "apt-get failed"
fi

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "export FOREST_TEST_CHROMEDRIVER=$(command -v chromedriver)"
else
    log "chromium or chromedriver unavailable: the UI tests will be skipped"
fi
exit 0

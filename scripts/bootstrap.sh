#!/usr/bin/env bash
# Idempotent bootstrap run before `npm start`, `npm test` and `npm run bench`:
#   1. npm packages: `npm ci` when node_modules is missing or older than package-lock.json
#   2. the browser + SwiftShader (CPU Vulkan driver): `apt-get install -y chromium` when missing
#   3. dist/: rebuilt (without declarations: fast, and a type error never blocks the tests; `npm test`
#      type-checks as a suite of its own) when a source is newer than the last build
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'wgprof bootstrap: %s\n' "$*" >&2; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

CHROMIUM=/usr/bin/chromium
ICD=/usr/lib/chromium/vk_swiftshader_icd.json
# Not `grep -q`: it exits at the first match, ldconfig then dies of SIGPIPE, and pipefail turns the match into a miss.
have_vulkan_loader() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep 'libvulkan\.so\.1' >/dev/null; }
if [ "${WGPROF_SKIP_APT:-}" != 1 ] && { [ ! -x "$CHROMIUM" ] || [ ! -f "$ICD" ] || ! have_vulkan_loader; }; then
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
  else
    say "Debian's chromium package or the Vulkan loader is missing ($CHROMIUM, its SwiftShader driver $ICD, libvulkan.so.1)."
    say "it provides the WebGPU browser and the CPU Vulkan driver. Run as root, then retry:"
    say "  apt-get update && apt-get install -y chromium libvulkan1"
    exit 1
  fi
  say "installing Debian's chromium (browser + SwiftShader Vulkan driver) and libvulkan1 (Vulkan loader for dawn.node)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libvulkan1 >/dev/null
  [ -f "$ICD" ] || { say "chromium installed but $ICD is still missing"; exit 1; }
fi

if [ ! -f dist/.stamp ] || [ -n "$(find src kernels scripts/build.mjs scripts/browser-size.mjs package.json tsconfig.json tsconfig.build.json -newer dist/.stamp -type f -print -quit)" ]; then
  say "building dist/"
  node scripts/build.mjs --no-types
fi

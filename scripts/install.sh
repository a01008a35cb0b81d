#!/usr/bin/env bash
# Installs everything Tributary needs on a fresh machine: pnpm, the workspace's npm
# dependencies (native modules build from source where no prebuilt binary ships), and the
# real Kafka clients the test suite drives (scripts/install-tools.sh). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[install] %s\n' "$*"; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "[install] ERROR: Node.js >= 20.19 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version | cut -d. -f1)" != "10" ]; then
  log "installing pnpm 10"
  npm install -g pnpm@10 >/dev/null
fi

log "pnpm install"
pnpm install --frozen-lockfile --reporter=silent

if [ "${1:-}" != "--no-tools" ]; then
  bash scripts/install-tools.sh
fi
log "done"

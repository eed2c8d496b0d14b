# Shared by the scripts: installs, on a fresh machine, what they need.
# Each step is skipped when its tool is already there, so reruns are quick.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$ROOT/scripts/tools/node_modules/.bin:$PATH"

# wasm-bindgen's CLI must equal the crate version pinned in Cargo.toml.
wasm_bindgen_version() {
  sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' "$ROOT/Cargo.toml"
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown
}

ensure_wasm_bindgen() {
  local want
  want="$(wasm_bindgen_version)"
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]; then
    echo "installing wasm-bindgen-cli $want (a few minutes, once)"
    # --locked fails on this registry (one pinned dependency is missing).
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

# Node tools for the build (binaryen's wasm-opt, Debian's is too old;
# esbuild, for the CommonJS entry).
ensure_node_tools() {
  if [ ! -x "$ROOT/scripts/tools/node_modules/.bin/wasm-opt" ] || [ ! -x "$ROOT/scripts/tools/node_modules/.bin/esbuild" ]; then
    (cd "$ROOT/scripts/tools" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

# Installs the project's npm dependencies in folder $1 if its lock is stale.
ensure_npm_deps() {
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules/.installed" ]; then
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
}

# Debian's Chromium and ChromeDriver, for the browser tests (root on these machines).
ensure_chromium() {
  if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    echo "installing chromium and chromium-driver (about a minute, once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

# A rustup component ($1: rustfmt, clippy) of the active toolchain.
ensure_rust_component() {
  rustup component list --installed | grep -q "^$1-" || rustup component add "$1"
}

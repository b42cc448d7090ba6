#!/usr/bin/env bash
# Rebuild three.bundle.min.js: three.js from the npm registry, pinned, bundled with the two
# controls the page uses into one ES module (the page works offline: no CDN at run time).
# Needs node/npm; the output is committed, so users and CI never run this.
set -euo pipefail
THREE_VERSION=0.187.0
ESBUILD_VERSION=0.27.0
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm install --silent --no-audit --no-fund "three@$THREE_VERSION" "esbuild@$ESBUILD_VERSION"
cat > entry.js <<'JS'
export * from 'three';
export { OrbitControls } from 'three/addons/controls/OrbitControls.js';
export { TransformControls } from 'three/addons/controls/TransformControls.js';
JS
./node_modules/.bin/esbuild entry.js --bundle --minify --format=esm --legal-comments=inline \
  --outfile="$here/three.bundle.min.js"
cp node_modules/three/LICENSE "$here/three-LICENSE.txt"
echo "three@$THREE_VERSION bundled into $here/three.bundle.min.js"

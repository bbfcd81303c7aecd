#!/usr/bin/env bash
# Build the local Debian base image every Switchboard image starts FROM, without any container
# registry: debootstrap from the Debian mirror apt already uses, trust the host's CA bundle
# (TLS may be intercepted on the way to PyPI and Debian), then `docker import`.
# The tag carries a hash of this recipe, so the image is rebuilt only when the recipe changes.
# Prints the tag. Usage: scripts/base-image.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
packages=ca-certificates,python3,python3-venv,tini
recipe_hash=$(cat "$0" /etc/ssl/certs/ca-certificates.crt | sha256sum | cut -c1-12)
tag="switchboard/base:$suite-$recipe_hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi
"$here/system-packages.sh" debootstrap >&2
mirror=$(grep -hoE '^URIs: *http[^ ]+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
mirror=${mirror:-$(grep -hoE '^deb +http[^ ]+/debian ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')}
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "building $tag from $mirror (about a minute)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
  - "$tag" >&2
docker tag "$tag" switchboard/base:latest
echo "$tag"

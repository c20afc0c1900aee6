#!/usr/bin/env bash
# Build the one image of every cloud step (the Dockerfile at the top level), tagged $CIRRUS_IMAGE
# (default localhost/cirrus:local).
#
#   bash scripts/build-image.sh
#
# With a Docker engine that answers, this is `docker build`. Without one, Debian's buildah builds
# the same Dockerfile daemonless (chroot isolation; overlay storage where it mounts, else vfs). Where no registry
# answers for the Python base image, a base is made from Debian's own packages (mmdebstrap:
# python3, venv, libgomp1, CA certificates) and passed to the Dockerfile as PYTHON_IMAGE.
# Layers are kept, so a second build on the same machine reuses what did not change; a lock makes
# concurrent calls wait for one build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE=${CIRRUS_IMAGE:-localhost/cirrus:local}
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOCAL_BASE=localhost/cirrus-python:3.11-${DEBIAN_SUITE}
# The Dockerfile's own default base, so both builders start from the same declaration.
PYTHON_IMAGE=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)

if docker info >/dev/null 2>&1; then
  docker build --build-arg "PYTHON_IMAGE=${PYTHON_IMAGE}" -t "$IMAGE" .
  docker image inspect --format 'image {{index .RepoTags 0}}: {{.Size}} bytes' "$IMAGE"
  exit 0
fi

if ! command -v buildah >/dev/null 2>&1 || ! command -v mmdebstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap >/dev/null
  else
    echo "scripts/build-image.sh: no Docker engine answers and buildah is not installed." >&2
    echo "Start Docker, or install buildah and mmdebstrap:  sudo apt-get install -y buildah mmdebstrap" >&2
    exit 1
  fi
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/cirrus
mkdir -p "$cache"
exec 9>"$cache/build-image.lock"
flock 9

# The storage driver: overlay where this kernel and filesystem mount it (fast: layers are shared),
# else vfs (full copies) in a store of its own. BUILDAH_STORAGE_DRIVER forces one. The choice is
# written to $cache/buildah-storage, so that whoever runs the image uses the same store.
storage_flags() {
  case "$1" in
    overlay) echo "--storage-driver=overlay" ;;
    *) echo "--storage-driver=$1 --root=$cache/containers-$1" ;;
  esac
}
overlay_mounts() {
  local ctr
  ctr=$(buildah --storage-driver=overlay from scratch 2>/dev/null) || return 1
  buildah --storage-driver=overlay mount "$ctr" >/dev/null 2>&1
  local mounted=$?
  buildah --storage-driver=overlay rm "$ctr" >/dev/null 2>&1 || true
  return "$mounted"
}
driver=${BUILDAH_STORAGE_DRIVER:-}
if [ -z "$driver" ]; then
  if overlay_mounts; then driver=overlay; else driver=vfs; fi
fi
storage_flags "$driver" > "$cache/buildah-storage"
# shellcheck disable=SC2046  # the flags are words by design
buildah() { command buildah $(cat "$cache/buildah-storage") "$@"; }

# A base from Debian's packages when the registry's Python image cannot be pulled. The machine's
# own extra CA certificates (a proxy's, under /usr/local/share/ca-certificates) are trusted in it,
# so pip and uv reach PyPI from inside the build exactly as they do outside.
base_from_debian() {
  local work ctr
  work=$(mktemp -d)
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,libgomp1,ca-certificates \
    "$DEBIAN_SUITE" "$work/rootfs.tar" "$DEBIAN_MIRROR"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$work/rootfs.tar" /
  rm -rf "$work"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    buildah copy --quiet "$ctr" /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/
    buildah run --isolation chroot "$ctr" -- update-ca-certificates >/dev/null
  fi
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --cmd python3 "$ctr"
  buildah commit --quiet --rm "$ctr" "$LOCAL_BASE" >/dev/null
}

if buildah inspect --type image "$PYTHON_IMAGE" >/dev/null 2>&1 \
  || buildah pull --quiet "$PYTHON_IMAGE" >/dev/null 2>&1; then
  base=$PYTHON_IMAGE
else
  base=$LOCAL_BASE
  if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    echo "scripts/build-image.sh: $PYTHON_IMAGE cannot be pulled; building $base from Debian's packages"
    base_from_debian
  fi
fi

buildah bud --isolation chroot --layers --build-arg "PYTHON_IMAGE=${base}" -t "$IMAGE" .
echo "image $IMAGE: $(buildah images --noheading --format '{{.Size}}' "$IMAGE") (base $base)"

#!/usr/bin/env bash
# Prepares this machine for eddy-powercut's FUSE mounts (crates/eddy-powercut).
#
# As root, eddy-powercut mounts with mount(2) directly and needs only /dev/fuse;
# fusermount3 (Debian package fuse3) is the fallback for non-root users and the
# tool to clean up a leaked mount by hand (`fusermount3 -u -z DIR`). Idempotent:
# does nothing that is already done.
set -euo pipefail

need_install=()
command -v fusermount3 >/dev/null 2>&1 || need_install+=(fuse3)

if ((${#need_install[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-fuse: need root to install ${need_install[*]}" >&2
        exit 1
    fi
    echo "setup-fuse: installing ${need_install[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null
fi

if [ ! -e /dev/fuse ]; then
    # The kernel module may just not be loaded yet.
    modprobe fuse 2>/dev/null || true
fi
if [ ! -e /dev/fuse ] && [ "$(id -u)" -eq 0 ]; then
    mknod -m 0666 /dev/fuse c 10 229 2>/dev/null || true
fi
if [ ! -e /dev/fuse ]; then
    echo "setup-fuse: /dev/fuse is missing (no FUSE in this kernel or container)" >&2
    exit 1
fi

echo "setup-fuse: ok ($(command -v fusermount3), /dev/fuse present)"

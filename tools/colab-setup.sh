#!/usr/bin/env bash
# colab-setup.sh: mount Google Drive with drivefs on a Colab VM, in place of
# the stock drive.mount(). Run it from a notebook cell AFTER
#
#     from google.colab import auth; auth.authenticate_user()
#
# which writes the Application Default Credentials drivefs signs in with
# (/content/.config/application_default_credentials.json). Steps:
#   1. install the Debian packages drivefs needs (skipped when all present);
#   2. build drivefs from this source tree (skipped with --bin-dir);
#   3. check the credentials (drivefs auth status);
#   4. unmount the stock mount at /content/drive if there is one (and a
#      drivefs mount left by an earlier run, which drains its queue first);
#   5. mount My Drive (or --root FOLDER) at /content/drive/MyDrive (or
#      --mountpoint PATH), detached, logging to /content/drivefs.log;
#   6. print drivefs-status.
#
# Usage: colab-setup.sh [--mountpoint PATH] [--root FOLDER] [--bin-dir DIR]
#                       [--build-dir DIR] [--skip-apt] [--log FILE]
#                       [-- drivefs mount options...]
#
# Environment (for tests and unusual setups):
#   DRIVEFS_CONTENT_DIR  stands in for /content (the fake Colab layout)
#   DRIVEFS_API_URL      Drive API base (e.g. the emulator's URL)
#   DRIVEFS_TOKEN_URL    OAuth token endpoint
#   DRIVEFS_BIN_DIR      same as --bin-dir
#   DRIVEFS_SKIP_APT=1   same as --skip-apt
#
# Exit status: 0 mounted; 1 a step failed (it says which and why).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTENT=${DRIVEFS_CONTENT_DIR:-/content}
MNT=""
ROOT=""
BIN_DIR=${DRIVEFS_BIN_DIR:-}
BUILD_DIR="$SRC/build/colab"
SKIP_APT=${DRIVEFS_SKIP_APT:-0}
LOG=""
EXTRA=()

DEB_PKGS="build-essential pkg-config fuse3 libfuse3-dev libcurl4-openssl-dev
libssl-dev libjansson-dev libxxhash-dev"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'colab-setup: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--mountpoint) MNT=${2:?--mountpoint needs a path}; shift 2 ;;
	--root) ROOT=${2:?--root needs a folder}; shift 2 ;;
	--bin-dir) BIN_DIR=${2:?--bin-dir needs a directory}; shift 2 ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--skip-apt) SKIP_APT=1; shift ;;
	--log) LOG=${2:?--log needs a file}; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; EXTRA=("$@"); break ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
MNT=${MNT:-$CONTENT/drive/MyDrive}
LOG=${LOG:-$CONTENT/drivefs.log}
export DRIVEFS_CONTENT_DIR=$CONTENT

# ------------------------------------------------------------ 1. packages
say "Debian packages"
missing=""
for p in $DEB_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "all present"
elif [ "$SKIP_APT" = 1 ]; then
	echo "missing:$missing (not installed: --skip-apt)"
else
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq || die "apt-get update failed"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends $missing </dev/null ||
		die "apt-get install failed"
fi

# --------------------------------------------------------------- 2. build
if [ -n "$BIN_DIR" ]; then
	say "Build: using $BIN_DIR"
else
	say "Build ($SRC -> $BUILD_DIR)"
	make -C "$SRC" -s B="$BUILD_DIR" -j"$(nproc 2>/dev/null || echo 2)" \
		"$BUILD_DIR/bin/drivefs" "$BUILD_DIR/bin/drivefs-status" ||
		die "the build failed (output above)"
	BIN_DIR=$BUILD_DIR/bin
fi
DRIVEFS=$BIN_DIR/drivefs
STATUS=$BIN_DIR/drivefs-status
[ -x "$DRIVEFS" ] || die "no drivefs binary at $DRIVEFS"

URLS=()
[ -n "${DRIVEFS_API_URL:-}" ] && URLS+=(--api-url "$DRIVEFS_API_URL")
[ -n "${DRIVEFS_TOKEN_URL:-}" ] && URLS+=(--token-url "$DRIVEFS_TOKEN_URL")

# --------------------------------------------------------- 3. credentials
say "Credentials"
# The options after -- that choose credentials count for the check too.
AUTH=()
set -- "${EXTRA[@]+"${EXTRA[@]}"}"
while [ $# -gt 0 ]; do
	case $1 in
	--credentials|--subject|--config) AUTH+=("$1" "${2:-}"); shift 2 || shift ;;
	--credentials=*|--subject=*|--config=*|--no-config) AUTH+=("$1"); shift ;;
	*) shift ;;
	esac
done
if ! "$DRIVEFS" auth status ${URLS[@]+"${URLS[@]}"} ${AUTH[@]+"${AUTH[@]}"}; then
	die "no working credentials. In a notebook cell, run first:
    from google.colab import auth; auth.authenticate_user()
(it writes $CONTENT/.config/application_default_credentials.json)"
fi

# ---------------------------------------------------- 4. existing mounts
# Mount points at or under $CONTENT/drive, deepest first, with their type.
mounts_under() {
	local base
	base=$(realpath -m "$1")
	awk -v base="$base" '{
		p = $5; gsub(/\\040/, " ", p)
		sep = index($0, " - "); split(substr($0, sep + 3), t, " ")
		if (p == base || index(p, base "/") == 1) print length(p), t[1], p
	}' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

unmount_one() { # TYPE PATH
	local type=$1 path=$2
	if [ "$type" = fuse.drivefs ]; then
		echo "unmounting the earlier drivefs mount at $path" \
			"(its pending uploads finish first)"
	else
		echo "unmounting the stock mount ($type) at $path"
	fi
	fusermount3 -u "$path" </dev/null 2>/dev/null ||
		fusermount -u "$path" </dev/null 2>/dev/null ||
		umount "$path" 2>/dev/null || umount -l "$path" ||
		die "cannot unmount $path"
	for _ in $(seq 1 600); do
		mounts_under "$path" | grep -q . || break
		sleep 0.1
	done
	! mounts_under "$path" | grep -q . || die "$path is still mounted"
	# A drivefs daemon exits once its queue is empty; the next one needs
	# its cache directory, so wait for that.
	if [ "$type" = fuse.drivefs ] && [ -f "$CONTENT/.drivefs.pid" ]; then
		wait_exit "$(cat "$CONTENT/.drivefs.pid")"
	fi
}

# Wait until process $1 (a drivefs daemon) has exited (or is a zombie
# nobody reaps: its work is done).
wait_exit() {
	local pid=$1 state
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	grep -q drivefs "/proc/$pid/cmdline" 2>/dev/null || return 0
	echo "waiting for drivefs (pid $pid) to finish uploading"
	while [ -e "/proc/$pid" ]; do
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
		[ "$state" = Z ] && return 0
		sleep 0.1
	done
}

say "Existing mounts under $CONTENT/drive"
found=0
while read -r type path; do
	[ -n "$type" ] || continue
	found=1
	unmount_one "$type" "$path"
done < <(mounts_under "$CONTENT/drive")
[ "$found" = 1 ] || echo "none"
# The mount point itself may sit elsewhere (--mountpoint).
while read -r type path; do
	[ -n "$type" ] && unmount_one "$type" "$path"
done < <(mounts_under "$MNT")

# --------------------------------------------------------------- 5. mount
say "Mounting ${ROOT:-My Drive} at $MNT"
mkdir -p "$MNT"
[ -z "$(ls -A "$MNT" 2>/dev/null)" ] ||
	die "$MNT is not empty; move its files away or pick --mountpoint"
ARGS=(mount -f ${URLS[@]+"${URLS[@]}"})
[ -n "$ROOT" ] && ARGS+=(--root "$ROOT")
ARGS+=("${EXTRA[@]+"${EXTRA[@]}"}" "$MNT")
mkdir -p "$(dirname "$LOG")"
# Detached from the cell: a new session, stdin closed, the log in a file
# (Colab has no syslog). -f keeps the daemon's stderr in that log.
setsid nohup "$DRIVEFS" "${ARGS[@]}" </dev/null >>"$LOG" 2>&1 &
PID=$!
echo "$PID" >"$CONTENT/.drivefs.pid"
for _ in $(seq 1 300); do
	if mounts_under "$MNT" | grep -q '^fuse.drivefs '; then
		break
	fi
	if ! kill -0 "$PID" 2>/dev/null; then
		tail -n 20 "$LOG" >&2 || true
		die "drivefs exited before mounting (log: $LOG)"
	fi
	sleep 0.1
done
mounts_under "$MNT" | grep -q '^fuse.drivefs ' || {
	tail -n 20 "$LOG" >&2 || true
	die "drivefs did not mount $MNT in 30 s (log: $LOG)"
}
echo "mounted (pid $PID, log $LOG)"

# -------------------------------------------------------------- 6. status
say "drivefs-status"
if [ -x "$STATUS" ]; then
	"$STATUS" "$MNT" || true
fi
cat <<EOF

Drive is at $MNT. Before the runtime ends, make sure everything is
uploaded:   !$STATUS --wait $MNT
To unmount: !fusermount3 -u $MNT   (waits for pending uploads)
EOF

#!/usr/bin/env bash
# `make demo`: run the bundled Drive emulator with a few sample files and
# mount drivefs on it at $DEMO_MNT (default ./demo-mnt). Ctrl-C unmounts and
# stops everything. Without a terminal it mounts, lists, and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${DEMO_PORT:-8765}
data=$(mktemp -d /tmp/drivefs-demo.XXXXXX)
mnt=${DEMO_MNT:-$PWD/demo-mnt}
cleanup() {
	if [ -n "${fs_pid:-}" ]; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
		wait "$fs_pid" 2>/dev/null
	fi
	[ -n "${fd_pid:-}" ] && kill "$fd_pid" 2>/dev/null && wait "$fd_pid" 2>/dev/null
	rm -rf "$data"
}
trap cleanup EXIT INT TERM

/usr/bin/python3 tests/fakedrive/fakedrive.py --host 127.0.0.1 --port "$port" \
	--data "$data/drive" >"$data/fakedrive.log" 2>&1 &
fd_pid=$!
for _ in $(seq 100); do
	grep -q "listening" "$data/fakedrive.log" 2>/dev/null && break
	sleep 0.1
done
url="http://127.0.0.1:$port"
seed() {
	curl -sf -X POST "$url/__control/seed" -H 'Content-Type: application/json' \
		-d "$1" >/dev/null
}
seed '{"path":"README.txt","content":"Hello from the drivefs demo.\n"}'
seed '{"path":"project/main.py","content":"print(\"hello\")\n"}'
seed '{"path":"project/notes.md","content":"# Notes\n"}'
curl -sf "$url/__control/credentials" >"$data/credentials.json"
chmod 600 "$data/credentials.json"

mkdir -p "$mnt"
bin/drivefs mount -f --credentials "$data/credentials.json" --api-url "$url" \
	--token-url "$url/token" --cache-dir "$data/cache" --poll-interval 0 \
	"$mnt" 2>"$data/drivefs.log" &
fs_pid=$!
for _ in $(seq 100); do
	grep -q " $mnt fuse" /proc/self/mounts && break
	kill -0 "$fs_pid" 2>/dev/null || { cat "$data/drivefs.log"; exit 1; }
	sleep 0.1
done

echo "fakedrive (Drive v3 emulator) is running at $url"
echo "drivefs is mounted at $mnt (log: $data/drivefs.log)"
ls -la "$mnt" "$mnt/project"
echo "  curl $url/__control/tree    # what Drive holds"
if [ -t 0 ]; then
	echo "Try: echo hi > $mnt/new.txt; then look at the tree. Ctrl-C to stop."
	wait "$fs_pid"
else
	echo "(no terminal: unmounting and stopping the demo)"
fi

#!/usr/bin/env bash
# `make demo`: run the bundled Drive emulator with a few sample files, and
# (once the mount exists) drivefs on top of it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${DEMO_PORT:-8765}
data=$(mktemp -d /tmp/drivefs-demo.XXXXXX)
cleanup() {
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

echo "fakedrive (Drive v3 emulator) is running at $url"
echo "credentials: $data/credentials.json"
echo "  curl $url/__control/tree    # what Drive holds"
if [ -t 0 ]; then
	echo "Ctrl-C to stop."
	wait "$fd_pid"
else
	echo "(no terminal: stopping the demo)"
fi

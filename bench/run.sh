#!/usr/bin/env bash
# make bench: install what the benchmark needs, start nginx on loopback with
# bench/nginx.conf, run the Go hot-path benchmarks, then loadgate, vegeta, hey
# and wrk side by side; write bench/RESULTS.md. With "memory" as the first
# argument, measure loadgate's RSS over a long run instead (bench/MEMORY.md).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in nginx wrk hey; do
	command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
	$SUDO apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

# The vegeta CLI at the version of the library loadgate uses.
vegeta_version=$(go list -m -f '{{.Version}}' github.com/tsenart/vegeta/v12)
GOBIN="$PWD/bin" go install "github.com/tsenart/vegeta/v12@${vegeta_version}"
go build -o bin/loadgate .

work=$(mktemp -d)
nginx_pid=
cleanup() {
	if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tmp"
sed "s#__DIR__#$work#g" bench/nginx.conf > "$work/nginx.conf"
nginx -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do
	curl -fs http://127.0.0.1:18080/ok >/dev/null 2>&1 && break
	sleep 0.1
done

if [ "${1:-}" = memory ]; then
	go run ./bench/peers -memory -loadgate bin/loadgate -duration "${MEMORY_DURATION:-3m}" -rate "${MEMORY_RATE:-1000}" -out bench/MEMORY.md
	exit 0
fi

go test -run '^$' -bench 'Record|Render|Check|Write|Read|Phases|RecorderResult' -benchmem -benchtime 200ms \
	./report/ ./internal/check/ ./internal/template/ ./internal/results/ ./internal/run/ | tee "$work/gobench.txt"
# The cost of phase tracing: requests/s at 50 workers against nginx, traced
# and not, alternating.
go test -run '^$' -bench 'AttackHit' -benchmem -benchtime 100000x -count 3 ./internal/attack/ | tee -a "$work/gobench.txt"
go run ./bench/peers -loadgate bin/loadgate -vegeta bin/vegeta -gobench "$work/gobench.txt" -out bench/RESULTS.md

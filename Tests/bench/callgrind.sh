#!/usr/bin/env bash
# Instructions per request, counted by callgrind: repeatable where wall-clock on a shared
# machine is not. Each binary runs under valgrind in front of nginx-as-Gemini, with a team, a key,
# rate limits and a hard budget on (admission, reservation and settlement on every call); after a
# warm-up, the counters are zeroed, N requests are sent one at a time, and the total of every
# thread is divided by N. Cases: a miss (chat, Cache-Control: no-store), a native miss, and a
# cache hit (the same chat request again).
#
#   Tests/bench/callgrind.sh BIN [BIN...]          # e.g. a baseline's binary and this one's
#   CALLGRIND_REQUESTS=300 Tests/bench/callgrind.sh BIN
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
here=$PWD/Tests/bench
# shellcheck source=budget-config.sh
source "$here/budget-config.sh"
requests=${CALLGRIND_REQUESTS:-200}
model=gemini-2.5-flash
echo_module=${BENCH_ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN...]" >&2; exit 2; }
cc=$(command -v cc || command -v clang || true)
[ -n "$cc" ] || { echo "callgrind: no C compiler (cc or clang) for the sigsuspend shim" >&2; exit 1; }
for tool in valgrind callgrind_control nginx python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "callgrind: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/fg-callgrind-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

"$cc" -shared -fPIC -O2 -o "$work/shim.so" "$here/sigsuspend-shim.c" -ldl

nginx_port=$(free_port)
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$nginx_port|g" -e "s|@SLOW_PORT@|$(free_port)|g" -e "s|@USER_LINE@|$user_line|" \
    -e "s|@ECHO_MODULE@|$echo_module|" "$here/nginx.conf.template" >"$work/nginx.conf"
nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" &
pids+=($!)
nginx_url=http://127.0.0.1:$nginx_port

key=$bench_key
write_budget_config "$nginx_url" "$work/budget.yaml"

# drive URL BODY CACHE N: N sequential POSTs on one keep-alive connection.
drive() {
    python3 - "$1" "$2" "$3" "$4" "$key" <<'PY'
import http.client, sys, urllib.parse
url, body, cache, n, key = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3], int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
headers = {"content-type": "application/json", "authorization": "Bearer " + key}
if cache == "off":
    headers["cache-control"] = "no-store"
for _ in range(n):
    conn.request("POST", u.path + ("?" + u.query if u.query else ""), body, headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"callgrind: HTTP {r.status} from {url}")
PY
}

printf '%-44s %-12s %12s\n' binary case instr/request
for bin in "$@"; do
    stripped=$work/flashgate-$(basename "$(dirname "$bin")")-$RANDOM
    cp "$bin" "$stripped"
    strip --strip-debug "$stripped"
    port=$(free_port)
    store=$work/store-$RANDOM
    out=$work/callgrind.out.$RANDOM
    GEMINI_API_KEY=bench LD_PRELOAD=$work/shim.so valgrind --tool=callgrind --callgrind-out-file="$out" \
        --dump-instr=no --collect-atstart=yes "$stripped" serve --host 127.0.0.1 --port "$port" --store "$store" \
        --config "$work/budget.yaml" >"$work/fg.log" 2>&1 &
    vpid=$!
    for _ in $(seq 600); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=1)" 2>/dev/null && break
        sleep 0.2
    done
    base=http://127.0.0.1:$port
    for case in chat-miss native-miss cache-hit; do
        case $case in
            chat-miss) url=$base/v1/chat/completions body=$here/openai.json cache=off ;;
            native-miss) url=$base/v1beta/models/$model:generateContent body=$here/native.json cache=off ;;
            cache-hit) url=$base/v1/chat/completions body=$here/openai.json cache=on ;;
        esac
        drive "$url" "$body" "$cache" 30
        callgrind_control -z "$vpid" >/dev/null 2>&1
        drive "$url" "$body" "$cache" "$requests"
        callgrind_control -d "$vpid" >/dev/null 2>&1
        total=0
        for f in "$out".*; do
            [ -f "$f" ] || continue
            n=$(grep -m1 '^summary:' "$f" | awk '{print $2}')
            total=$((total + ${n:-0}))
            rm -f "$f"
        done
        printf '%-44s %-12s %12d\n' "$bin" "$case" $((total / requests))
    done
    kill -TERM "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
    rm -f "$out"*
done

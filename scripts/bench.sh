#!/usr/bin/env bash
# Benchmark: N generated alarms against moto. Reports wall time, vigil's own CPU
# time (user+sys), peak RSS and API calls for three runs: create, no-op plan, and
# one change. It also replays the no-op plan's HTTP requests with curl, to show
# what the emulator alone takes to serve them (the floor).
#   scripts/bench.sh 2000
#
# Quota mode: every case of AWS's request-rate quotas through the quota and
# fault proxy (tests/it/proxy.rs) in front of moto, each beside its floor:
#   scripts/bench.sh quotas [tagged|create|storm|rss|targets ...]
# Sizes: BENCH_TAGGED (2000), BENCH_CREATE (300), BENCH_STORM (100), BENCH_RSS (10000),
# BENCH_TARGETS (500), BENCH_TARGETS_RSS (2000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
vigil="${VIGIL_BIN:-${CARGO_TARGET_DIR:-target}/debug/vigil}"
[ -n "${VIGIL_BIN:-}" ] || cargo build --quiet --bin vigil
if [ "${1:-}" = quotas ]; then
  shift
  # The proxy lives in the integration-test binary (the same build the tests use).
  proxy="$(cargo test --quiet --features failpoints,testkit --test it --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "it":
        print(m["executable"])')"
  MOTO_PID="$moto_pid" VIGIL_BIN="$vigil" VIGIL_PROXY_BIN="$proxy" "$(dirname "$moto_server")/python" scripts/bench_quotas.py "$@"
  exit
fi
n="${1:-2000}"
work="$(mktemp -d)"
# Its own inventory: not the one a previous run left in the working directory.
export VIGIL_STATE_DIR="$work/state"
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
dir="$work/desired-state"
mkdir -p "$dir"

python3 - "$dir" "$n" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(f"{d}/alarms.yaml", "w") as f:
    for i in range(n):
        f.write(f"""---
apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: bench-alarm-{i:05d}
spec:
  namespace: Bench/App
  metricName: Latency
  dimensions: {{Service: svc-{i % 50}}}
  statistic: Average
  period: 60
  evaluationPeriods: 3
  threshold: {100 + i % 7}
  comparisonOperator: GreaterThanThreshold
""")
PY

# Runs vigil and prints: wall seconds, CPU seconds (user+sys), peak RSS MB, and the report.

run() {
  local label="$1"; shift
  python3 - "$label" "$vigil" "$@" <<'PY'
import json, os, resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.perf_counter()
p = subprocess.run(cmd, capture_output=True, text=True)
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
rss_mb = after.ru_maxrss / 1024
if p.returncode not in (0, 2):
    sys.exit(f"{label}: vigil exited {p.returncode}\n{p.stderr}")
r = json.loads(p.stdout)
calls = r["apiCalls"]
s = r["summary"]
print(f"{label:<10} wall {wall:7.3f}s  cpu {cpu*1000:7.0f}ms  peak-rss {rss_mb:6.1f}MB  "
      f"calls {calls['total']:5d} (reads {calls['reads']}, writes {calls['writes']})  "
      f"create {s['create']} update {s['update']} unchanged {s['unchanged']}")
print(json.dumps(calls["byService"]), file=sys.stderr)
PY
}

echo "vigil: $vigil; $n alarms; emulator $AWS_ENDPOINT_URL" >&2
run create reconcile "$dir" --output json
run no-op reconcile "$dir" --dry-run --output json --detailed-exitcode
sed -i '0,/threshold: 100/s//threshold: 555/' "$dir/alarms.yaml"
run one-change reconcile "$dir" --output json

# The floor: the same requests the no-op plan sends, replayed with curl.
python3 - "$AWS_ENDPOINT_URL" "$n" <<'PY'
import subprocess, sys, time, re
url, n = sys.argv[1], int(sys.argv[2])
auth = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{svc}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0")
def post(svc, body):
    return subprocess.run(["curl", "-s", "-X", "POST", url, "-H", "Content-Type: application/x-www-form-urlencoded",
                           "-H", "X-Amz-Date: 20260101T000000Z", "-H", "Authorization: " + auth.format(svc=svc),
                           "--data", body], capture_output=True, text=True).stdout
start = time.perf_counter()
post("sts", "Action=GetCallerIdentity&Version=2011-06-15")
token, pages = None, 0
while True:
    body = ("Action=DescribeAlarms&Version=2010-08-01&AlarmTypes.member.1=MetricAlarm"
            "&AlarmTypes.member.2=CompositeAlarm&MaxRecords=100")
    if token:
        body += "&NextToken=" + token
    out = post("monitoring", body)
    pages += 1
    m = re.search(r"<NextToken>([^<]+)</NextToken>", out)
    if not m:
        break
    token = m.group(1)
wall = time.perf_counter() - start
print(f"floor      wall {wall:7.3f}s  (curl replaying GetCallerIdentity + {pages} DescribeAlarms page(s))")
PY

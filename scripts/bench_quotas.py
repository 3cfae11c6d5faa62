"""The benchmark's quota mode: vigil through the quota and fault proxy in front of
moto, every case beside its floor, measured in one run.

Run by `scripts/bench.sh quotas` (which starts moto, builds vigil and the proxy).
Each case runs in an account of its own (moto's AssumeRole into any account id).
"""

import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

VIGIL = os.environ["VIGIL_BIN"]
PROXY_BIN = os.environ["VIGIL_PROXY_BIN"]
MOTO = os.environ["AWS_ENDPOINT_URL"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {
    "tagged": int(os.environ.get("BENCH_TAGGED", 2000)),
    "create": int(os.environ.get("BENCH_CREATE", 300)),
    "storm": int(os.environ.get("BENCH_STORM", 100)),
    "rss": int(os.environ.get("BENCH_RSS", 10000)),
    "targets": int(os.environ.get("BENCH_TARGETS", 500)),
    "targets_rss": int(os.environ.get("BENCH_TARGETS_RSS", 2000)),
}
# The quota table's rates (src/aws/quotas.rs), which the proxy enforces.
RATE = {"DescribeAlarms": 9.0, "GetResources": 15.0, "ListTagsForResource": 10.0, "PutMetricAlarm": 3.0}
NEXT_ACCOUNT = [300000000000 + (os.getpid() % 1000) * 1000]
WORK = tempfile.mkdtemp(prefix="vigil-bench-quotas-")


def bucket_floor(tokens, rate):
    """Seconds a token bucket of `rate` a second, holding max(1, rate), needs for `tokens`."""
    return max(0.0, (tokens - max(1.0, rate)) / rate)


def account_env():
    """Credentials of a fresh moto account."""
    NEXT_ACCOUNT[0] += 1
    account = str(NEXT_ACCOUNT[0])
    sts = boto3.client("sts", endpoint_url=MOTO, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench", RoleSessionName="bench")["Credentials"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
               AWS_SESSION_TOKEN=c["SessionToken"], AWS_REGION="us-east-1", AWS_ENDPOINT_URL=MOTO,
               AWS_EC2_METADATA_DISABLED="true")
    env["VIGIL_STATE_DIR"] = tempfile.mkdtemp(dir=WORK, prefix=f"state-{account}-")
    return account, env


def alarms(path, prefix, n, tagged):
    tags = "  tags:\n    team: sre\n    tier: web\n" if tagged else ""
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {prefix}-{i:05d}\n"
                    f"spec:\n  namespace: Bench/App\n  metricName: Latency\n  dimensions: {{Service: svc-{i % 50}}}\n"
                    f"  statistic: Average\n  period: 60\n  evaluationPeriods: 3\n  threshold: {100 + i % 7}\n"
                    f"  comparisonOperator: GreaterThanThreshold\n{tags}")


def settings(path, quotas):
    body = "".join(f"    {k}: {v}\n" for k, v in quotas.items())
    with open(path, "w") as f:
        f.write(f"apiVersion: vigil/v1\nkind: Settings\nmetadata:\n  name: default\nspec:\n  quotas:\n{body}")


def new_dir(name):
    d = os.path.join(WORK, name, "desired-state")
    os.makedirs(d)
    return d


class Proxy:
    def __init__(self, name, **env):
        port_file = os.path.join(WORK, f"proxy-{name}")
        e = dict(os.environ, VIGIL_PROXY_UPSTREAM=MOTO, VIGIL_PROXY_PORT_FILE=port_file, **env)
        self.log = open(os.path.join(WORK, f"proxy-{name}.log"), "w")
        self.p = subprocess.Popen([PROXY_BIN, "proxy::serve", "--ignored", "--exact", "--nocapture"],
                                  env=e, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        self.url = open(port_file).read().strip()

    def stats(self):
        return json.load(urllib.request.urlopen(self.url + "/__proxy/stats"))

    def op(self, service, op):
        s = self.stats()["byService"].get(service, {}).get(op, {})
        return {k: s.get(k, 0) for k in ("forwarded", "throttledQuota", "throttledStorm", "tokens")}

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/__proxy/reset", method="POST"))

    def stop(self):
        self.p.kill()
        self.p.wait()


def vigil(env, *args, via=None):
    """Runs vigil; returns (exit code, wall seconds, peak RSS MB, parsed JSON report or None, stderr)."""
    e = dict(env)
    if via:
        e["AWS_ENDPOINT_URL"] = via.url
    start = time.perf_counter()
    p = subprocess.Popen([VIGIL, *args], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    wall = time.perf_counter() - start
    # The rusage of this child alone.
    rss = getattr(p, "rusage", None)
    rss_mb = rss.ru_maxrss / 1024 if rss else float("nan")
    try:
        report = json.loads(out)
    except ValueError:
        report = None
    return p.returncode, wall, rss_mb, report, err


class Popen(subprocess.Popen):
    """subprocess.Popen that keeps the child's own rusage (wait4), not the sum of all children."""

    def _try_wait(self, wait_flags):
        pid, sts, self.rusage = os.wait4(self.pid, wait_flags)
        return pid, sts


subprocess.Popen = Popen


def create_directly(env, d):
    """Applies the directory straight on moto, the alarm quota raised for it: the case is what follows."""
    settings(os.path.join(d, "settings.yaml"), {"cloudwatch:PutMetricAlarm": 10000})
    code, wall, _, _, err = vigil(env, "reconcile", d)
    os.remove(os.path.join(d, "settings.yaml"))
    if code != 0:
        sys.exit(f"setup failed ({code}): {err}")
    return wall


def floor_client(env, proxy, n):
    """The ideal client of the tagged no-op: only the pages (GetCallerIdentity, then DescribeAlarms
    and GetResources 100 a page at the same time, as neither needs the other), each sent as soon as
    the proxy's bucket allows. Returns wall seconds and GetResources pages."""
    kw = dict(endpoint_url=proxy.url, region_name="us-east-1", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"])
    cfg = boto3.session.Config(retries={"max_attempts": 1})
    sts, cw = boto3.client("sts", config=cfg, **kw), boto3.client("cloudwatch", config=cfg, **kw)
    tagging = boto3.client("resourcegroupstaggingapi", config=cfg, **kw)

    def alarms():
        token = None
        while True:
            r = cw.describe_alarms(MaxRecords=100, **({"NextToken": token} if token else {}))
            token = r.get("NextToken")
            if not token:
                return

    def tag_pages():
        tokens, t0 = max(1.0, RATE["GetResources"]), time.perf_counter()
        token, pages = None, 0
        while True:
            now = time.perf_counter()
            tokens = min(max(1.0, RATE["GetResources"]), tokens + (now - t0) * RATE["GetResources"])
            t0 = now
            if tokens < 1:
                time.sleep((1 - tokens) / RATE["GetResources"])
                continue
            tokens -= 1
            args = dict(ResourceTypeFilters=["cloudwatch:alarm"], ResourcesPerPage=100, TagsPerPage=500)
            r = tagging.get_resources(**args, **({"PaginationToken": token} if token else {}))
            pages += 1
            token = r.get("PaginationToken")
            if not token:
                return pages

    start = time.perf_counter()
    sts.get_caller_identity()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        walk = pool.submit(alarms)
        tagged = pool.submit(tag_pages)
        walk.result()
        pages = tagged.result()
    return time.perf_counter() - start, pages


def case_tagged(proxy):
    n = SIZES["tagged"]
    _, env = account_env()
    d = new_dir("tagged")
    alarms(os.path.join(d, "alarms.yaml"), "tagged", n, True)
    create_directly(env, d)
    floor_wall, pages = floor_client(env, proxy, n)
    time.sleep(5)  # the proxy's buckets fill up again
    proxy.reset()
    code, wall, rss, r, err = vigil(env, "reconcile", d, "--dry-run", "--output", "json", via=proxy)
    vigil_stats = proxy.stats()
    per_alarm = bucket_floor(n, RATE["ListTagsForResource"])
    calls = r["apiCalls"] if r else {}
    thr = vigil_stats["total"]["throttledQuota"] + vigil_stats["total"]["throttledStorm"]
    print(f"tagged no-op   {n} alarms with tags, dry run under quotas: exit {code}, failed {r['summary']['failed'] if r else '?'}, "
          f"{calls.get('total')} calls {json.dumps(calls.get('byService'))}, throttled {thr}")
    print(f"  vigil {wall:6.2f}s   floor {floor_wall:6.2f}s (ideal client: {pages} GetResources pages at "
          f"{RATE['GetResources']:.0f}/s beside DescribeAlarms)   ratio {wall / floor_wall:5.2f}x")
    # The same bucket arithmetic as the per-alarm figure below: each operation's
    # tokens through its bucket, both at once, with no time to answer.
    quota_floor = max(bucket_floor(pages, RATE["GetResources"]),
                      bucket_floor(math.ceil(n / 100), RATE["DescribeAlarms"]))
    print(f"  quota floor {quota_floor:6.2f}s ({pages} GetResources tokens at {RATE['GetResources']:.0f}/s beside "
          f"{math.ceil(n / 100)} DescribeAlarms tokens at {RATE['DescribeAlarms']:.0f}/s, no latency)   "
          f"ratio {wall / quota_floor:5.2f}x")
    print(f"  one ListTagsForResource per alarm would need >= {per_alarm:6.1f}s at {RATE['ListTagsForResource']:.0f}/s: "
          f"vigil is {per_alarm / wall:5.1f}x faster")
    if code != 0:
        print(err[-2000:])


def case_create(proxy, name, n, quotas=None, rate=RATE["PutMetricAlarm"]):
    _, env = account_env()
    d = new_dir(name)
    alarms(os.path.join(d, "alarms.yaml"), name, n, False)
    if quotas:
        settings(os.path.join(d, "settings.yaml"), quotas)
    proxy.reset()
    code, wall, _, r, err = vigil(env, "reconcile", d, "--output", "json", via=proxy)
    s = proxy.stats()
    put = s["byService"].get("cloudwatch", {}).get("PutMetricAlarm", {})
    thr_all = s["total"]["throttledQuota"] + s["total"]["throttledStorm"]
    sent = s["total"]["forwarded"] + thr_all
    floor = bucket_floor(n, rate)
    print(f"create {name:<7} {n} alarms at {rate:g}/s: exit {code}, created {r['summary']['create'] if r else '?'}, "
          f"PutMetricAlarm forwarded {put.get('forwarded')} throttled {put.get('throttledQuota', 0)}; "
          f"all requests {sent}, throttled {thr_all} ({100 * thr_all / max(1, sent):.1f}%)")
    print(f"  vigil {wall:6.2f}s   floor {floor:6.2f}s ({n} puts through a bucket of {rate:g}/s)   ratio {wall / floor:5.2f}x")
    if code != 0:
        print(err[-2000:])


def storm_directory(name, n, account):
    d = new_dir(name)
    src = os.path.join(REPO, "desired-state")
    for root, _, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), src)
            if rel in ("xray/monitoring-lab-api.yaml", "logs/insights-queries.yaml"):
                continue  # moto serves neither X-Ray groups and rules nor query definitions
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            text = open(os.path.join(root, f)).read().replace("monitoring-lab-config-bucket", f"lab-config-{account}")
            open(os.path.join(d, rel), "w").write(text)
    alarms(os.path.join(d, "alarms", "generated.yaml"), name, n, True)
    return d


def writes_forwarded(stats):
    out = {}
    for service, ops in stats["byService"].items():
        for op, s in ops.items():
            read = op.startswith(("Describe", "List", "Get", "Head", "Validate", "Lookup"))
            if not read and service != "sts" and s["forwarded"]:
                out[f"{service}:{op}"] = s["forwarded"]
    return out


def case_storm(calm_proxy, storm_proxy):
    n = SIZES["storm"]
    a1, calm_env = account_env()
    calm_dir = storm_directory("calm", n, a1)
    calm_proxy.reset()
    code, calm_wall, _, _, err = vigil(calm_env, "reconcile", calm_dir, "--output", "json", via=calm_proxy)
    calm_writes = writes_forwarded(calm_proxy.stats())
    a2, env = account_env()
    d = storm_directory("storm", n, a2)
    storm_proxy.reset()
    code, wall, _, r, err = vigil(env, "reconcile", d, "--output", "json", via=storm_proxy)
    s = storm_proxy.stats()
    storm_writes = writes_forwarded(s)
    dupes = {k: storm_writes.get(k, 0) - v for k, v in calm_writes.items() if storm_writes.get(k, 0) != v}
    sent = s["total"]["forwarded"] + s["total"]["throttledQuota"] + s["total"]["throttledStorm"]
    print(f"storm          {n} alarms + the lab's other kinds, 50% of requests throttled: exit {code}, "
          f"failed {r['summary']['failed'] if r else '?'}, applied {sum(r['summary'][k] for k in ('create', 'update')) if r else '?'}; "
          f"{s['total']['throttledStorm']} of {sent} requests storm-throttled; writes forwarded {sum(storm_writes.values())} "
          f"vs {sum(calm_writes.values())} calm: duplicates {dupes or 0}")
    print(f"  vigil {wall:6.2f}s   calm run of the same directory {calm_wall:6.2f}s   ratio {wall / calm_wall:5.2f}x")
    if code != 0:
        print(err[-3000:])
    code, wall2, _, r2, _ = vigil(env, "reconcile", d, "--output", "json", via=storm_proxy)
    print(f"  second run in the storm: exit {code}, writes {r2['apiCalls']['writes'] if r2 else '?'}, "
          f"changes {len(r2['changes']) if r2 else '?'}, {wall2:.2f}s")
    case_storm_run(storm_proxy, n)


def case_storm_run(storm_proxy, n):
    """`vigil run` from nothing, in the storm, until a cycle with no change."""
    a, env = account_env()
    d = storm_directory("storm-run", n, a)
    e = dict(env, AWS_ENDPOINT_URL=storm_proxy.url)
    start = time.perf_counter()
    p = subprocess.Popen([VIGIL, "run", d, "--listen", "127.0.0.1:0", "--interval", "2s"], env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    addr = None
    while addr is None:
        line = p.stderr.readline()
        if not line:
            sys.exit("vigil run ended before listening")
        if line.startswith("listening on "):
            addr = line.split()[-1]
    # Keep draining stderr so vigil never blocks on it.
    import threading
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    status, cycles = None, 0
    while time.perf_counter() - start < 900:
        try:
            status = json.load(urllib.request.urlopen(f"http://{addr}/status"))
        except OSError:
            time.sleep(0.5)
            continue
        last = status.get("lastCycle") or {}
        if last.get("outcome") == "success" and not last.get("changes"):
            break
        time.sleep(0.5)
    took = time.perf_counter() - start
    metrics = urllib.request.urlopen(f"http://{addr}/metrics").read().decode()
    outcomes = {l.split('"')[1]: float(l.split()[-1]) for l in metrics.splitlines()
                if l.startswith("vigil_reconcile_total{")}
    p.terminate()
    p.wait()
    print(f"  vigil run in the storm: converged after {status.get('cycles') if status else '?'} cycles in {took:.1f}s; "
          f"cycles by outcome {outcomes}")


def case_rss(proxy):
    n = SIZES["rss"]
    _, env = account_env()
    d = new_dir("rss")
    alarms(os.path.join(d, "alarms.yaml"), "rss", n, False)
    create_directly(env, d)
    code, wall, rss, r, err = vigil(env, "reconcile", d, "--dry-run", "--output", "json", via=proxy)
    print(f"10k no-op      {n} alarms, dry run under quotas: exit {code}, {wall:.2f}s, peak RSS {rss:.1f} MB "
          f"(target <= 100 MB: {rss / 100:.2f}x of it)")


def targets_directory(name, n):
    """Three accounts in two regions, `n` tagged alarms in each target."""
    _, env = account_env()
    d = new_dir(name)
    docs = []
    for i in range(3):
        NEXT_ACCOUNT[0] += 1
        a = str(NEXT_ACCOUNT[0])
        docs.append(f"---\napiVersion: vigil/v1\nkind: Target\nmetadata:\n  name: team{i}\nspec:\n  accountId: \"{a}\"\n"
                    f"  regions: [us-east-1, eu-west-1]\n  roleArn: arn:aws:iam::{a}:role/vigil\n")
    with open(os.path.join(d, "targets.yaml"), "w") as f:
        f.write("".join(docs))
    alarms(os.path.join(d, "alarms.yaml"), name, n, True)
    create_directly(env, d)
    keys = [f"team{i}/{r}" for i in range(3) for r in ("us-east-1", "eu-west-1")]
    return env, d, keys


def moto_cpu():
    """CPU seconds moto has used so far (one Python process: it serves one request at a time)."""
    f = open(f"/proc/{os.environ['MOTO_PID']}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def case_targets(proxy):
    n = SIZES["targets"]
    env, d, keys = targets_directory("targets", n)
    for via, label in ((proxy, "through the quota proxy"), (None, "straight on moto")):
        alone = []
        for k in keys:
            time.sleep(2)  # the proxy's buckets fill up again
            code, wall, _, _, err = vigil(env, "reconcile", d, "--dry-run", "--output", "json", "--target", k, via=via)
            if code != 0:
                print(err[-2000:])
            alone.append(wall)
        time.sleep(2)
        cpu0 = moto_cpu()
        code, wall, rss, r, err = vigil(env, "reconcile", d, "--dry-run", "--output", "json", via=via)
        served = moto_cpu() - cpu0
        failed = sum(t["summary"]["failed"] for t in r["targets"]) if r else "?"
        floor = max(max(alone), served)
        print(f"targets        6 targets x {n} tagged alarms, no-op dry run {label}: exit {code}, failed {failed}")
        print(f"  all six {wall:6.2f}s   slowest single target alone {max(alone):6.2f}s "
              f"(each: {', '.join(f'{a:.2f}' for a in alone)})   ratio {wall / max(alone):5.2f}x   peak RSS {rss:.1f} MB")
        print(f"  moto's CPU to serve all six {served:6.2f}s (one Python process, one request at a time): "
              f"all six = {wall / floor:5.2f}x max(slowest alone, emulator's serial work)")
    n = SIZES["targets_rss"]
    env, d, _ = targets_directory("targets-rss", n)
    code, wall, rss, r, err = vigil(env, "reconcile", d, "--dry-run", "--output", "json", via=proxy)
    print(f"targets RSS    6 targets x {n} alarms, no-op dry run under quotas: exit {code}, {wall:.2f}s, "
          f"peak RSS {rss:.1f} MB (target <= 200 MB: {rss / 200:.2f}x of it)")


def main():
    only = set(sys.argv[1:])
    quota = Proxy("quota")
    raised = Proxy("raised", VIGIL_PROXY_QUOTAS="cloudwatch:PutMetricAlarm=10")
    storm = Proxy("storm", VIGIL_PROXY_STORM="0.5", VIGIL_PROXY_SEED="7")
    try:
        print(f"vigil {VIGIL}; proxy {PROXY_BIN}; moto {MOTO}", file=sys.stderr)
        if not only or "tagged" in only:
            case_tagged(quota)
        if not only or "create" in only:
            case_create(quota, "default", SIZES["create"])
            case_create(raised, "raised", SIZES["create"], quotas={"cloudwatch:PutMetricAlarm": 10}, rate=10.0)
        if not only or "storm" in only:
            case_storm(quota, storm)
        if not only or "rss" in only:
            case_rss(quota)
        if not only or "targets" in only:
            case_targets(quota)
    finally:
        for p in (quota, raised, storm):
            p.stop()
        shutil.rmtree(WORK, ignore_errors=True)


main()

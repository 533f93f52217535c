#!/usr/bin/env python3
"""Organisation-scale benchmark, one command: auditpack vs a bare-SDK ceiling vs Prowler, on one moto.

    scripts/bench_org.py [--trails 1000] [--accounts 3] [--regions 5] [--binary target/release/auditpack]
                         [--skip-prowler] [--latency-ms 50 [--history-compare]] [--scale-trails 10000]
                         [--json out.json]

In one run it:
  1. starts its own moto_server on a free loopback port (stopped at the end);
  2. seeds --trails trails over --accounts accounts (111111111111, 222222222222, ...; the first is the
     management account auditpack runs as) and --regions regions with tests/fixtures/seed.py's `bench`
     scenario: half encrypted, one key per 25 encrypted trails, one bucket per 10 trails;
  3. times examples/sdk_ceiling.rs, a bare SDK GetTrailStatus loop (the ceiling moto allows);
  4. times `auditpack collect --accounts ... --role-name ...` then `auditpack report` (run 1);
  5. times Prowler (`cloudtrail_kms_encryption_enabled`), once per account, from its own virtualenv in
     target/bench/prowler-venv (created and installed from PyPI if missing);
  6. times auditpack again (run 2), then the ceiling again: this machine's speed drifts by a fifth or
     more within minutes, so each side is measured before and after the other and the ratios use means;
  7. checks that both tools give every trail the same CIS 3.7 verdict, by trail ARN, and that both match
     what was seeded (and auditpack's two runs each other); prints any disagreement and exits 1 if any;
  8. prints a summary table (and --json FILE writes it as JSON), with how busy each tool kept moto and
     moto's CPU per call: collect's calls are a mix that costs moto more per call than GetTrailStatus.

Peak memory is each measured process's own ru_maxrss, from os.wait4 in a small wrapper process (see
RSS_WRAPPER: a child of this script would count this script's own memory in).
--latency-ms N also puts tests/fixtures/fault_proxy.py (N ms added to every answer) between auditpack
and moto and times collect at the default concurrency vs --concurrency 1 (the latter takes minutes).
With --history-compare, the latency mode instead times collect with CloudTrail Event history against
--no-history, alternated three times, with the CPU moto and the proxy spent; LookupEvents is answered
(empty, in AWS's shape) by the latency proxy, or by moto with --history-via-moto.
--scale-trails N also seeds a second, fresh moto with N trails and measures collect+report peak memory
there (skipped if seeding takes longer than --scale-seed-timeout seconds).

Builds `cargo build --release --bin auditpack --example sdk_ceiling` first unless --binary is given.
Talks only to servers it starts on loopback addresses; never runs `prowler --version`.
"""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_aws import aws_env, start_moto, start_proxy, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "tests", "fixtures", "seed.py")
PROWLER_VENV = os.path.join(ROOT, "target", "bench", "prowler-venv")
PROWLER_SPEC = "prowler==5.46.0"
PROWLER_CHECK = "cloudtrail_kms_encryption_enabled"
AUDITPACK_CHECK = "cloudtrail-kms-encryption"
ALL_REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1",
               "us-east-2", "eu-west-2", "ap-northeast-1", "ca-central-1", "sa-east-1"]
ROLE_NAME = "AuditpackReader"
CEILING_WARMUP = 64  # untimed calls sdk_ceiling makes first, to open connections
STARTED = time.perf_counter()


def say(message):
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", flush=True)


# ---------------------------------------------------------------------------- processes and moto

# Runs argv[2:] as its child and writes that child's rusage peak RSS (KiB) to argv[1]. A child forked
# straight from this script would report at least this script's own RSS: Linux carries the peak of the
# memory a process had before exec (for a vfork, its parent's) into its ru_maxrss. This small, fresh
# interpreter is the parent instead, so what it reports is the measured tool's own peak.
# It also times the child itself, so the wrapper's start-up is not counted either.
RSS_WRAPPER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {wall}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def process_cpu_s(proc):
    """CPU seconds (user + system, all threads) a running process has used so far; None where /proc is
    not there to tell."""
    if proc is None:
        return None
    try:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def unjournaled_ext4(path):
    """The device if `path` is on ext4 without a journal (Linux), else None. There, creating a file
    scans past every inode freed in the last one to five minutes, so a pack written soon after many
    files were deleted (say, a previous benchmark's work directory) costs collect seconds of CPU."""
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    path, best = os.path.realpath(path), None
    for m in mounts:
        point, fstype, source = m[4], m[m.index("-") + 1], m[m.index("-") + 2]
        if (path == point or path.startswith(point.rstrip("/") + "/")) and (best is None or len(point) > len(best[0])):
            best = (point, fstype, source)
    if best is None or best[1] != "ext4":
        return None
    device = os.path.basename(best[2])
    try:
        journals = os.listdir("/proc/fs/jbd2")
    except OSError:
        journals = []
    return None if any(j.startswith(device + "-") for j in journals) else device


def measure(cmd, env, log_path, progress=None, moto=None):
    """Runs cmd with stdout+stderr to log_path; returns wall seconds, exit code and the child's own peak
    RSS (measured by RSS_WRAPPER, so that this script's memory is not counted in). Given the moto
    process, also the CPU seconds moto spent meanwhile (`moto_cpu_s`): how busy the tool kept it."""
    moto_before = process_cpu_s(moto)
    stop_progress = threading.Event()
    start = time.perf_counter()
    if progress:
        def tick():
            while not stop_progress.wait(15):
                say(f"  {progress}: still running ({time.perf_counter() - start:.0f} s)")
        threading.Thread(target=tick, daemon=True).start()
    rss_path = log_path + ".maxrss"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", RSS_WRAPPER, rss_path, *cmd], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        returncode = proc.wait()
    stop_progress.set()
    moto_after = process_cpu_s(moto)
    with open(rss_path) as f:
        peak, wall = f.read().split()
        peak, wall = int(peak), float(wall)
    moto_cpu = None if moto_before is None or moto_after is None else moto_after - moto_before
    return {"wall_s": wall, "rc": returncode, "peak_rss_kib": peak, "log": log_path, "moto_cpu_s": moto_cpu}


def tail(path, lines=15):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


# ---------------------------------------------------------------------------- seeding

def account_ids(n):
    """111111111111 ... 999999999999 for up to 9 accounts (as before); beyond, 100000000001 onwards."""
    if not 1 <= n <= 200:
        sys.exit("--accounts must be 1..200")
    if n <= 9:
        return [str(d) * 12 for d in range(1, n + 1)]
    return [f"{100_000_000_000 + i:012d}" for i in range(1, n + 1)]


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def seed_one(endpoint, account, prefix, trails, regions, timeout):
    out = subprocess.run(
        [sys.executable, SEED, "--endpoint", endpoint, "--account", account, "--prefix", prefix,
         "--trails", str(trails), "--regions", ",".join(regions), "bench"],
        capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        sys.exit(f"seed.py failed for {account}: {out.stderr}")
    return json.loads(out.stdout)


def seed_org(endpoint, accounts, trails, regions, timeout=None):
    """Seeds every account at once (one seed.py per account, each assuming a role in its account)."""
    counts = split(trails, len(accounts))
    with ThreadPoolExecutor(min(len(accounts), 16)) as pool:
        jobs = [pool.submit(seed_one, endpoint, a, f"o{i + 1}", n, regions, timeout)
                for i, (a, n) in enumerate(zip(accounts, counts))]
        return [j.result() for j in jobs]


# ---------------------------------------------------------------------------- building and the ceiling

def build(args):
    binary = args.binary or os.path.join(ROOT, "target", "release", "auditpack")
    ceiling = os.path.join(ROOT, "target", "release", "examples", "sdk_ceiling")
    targets = [] if args.binary else ["--bin", "auditpack"]
    if not args.binary or not os.path.exists(ceiling):
        targets += ["--example", "sdk_ceiling"]
        say(f"cargo build --release {' '.join(targets)} (may wait for the target/ lock)")
        subprocess.run(["cargo", "build", "--release", "--quiet", *targets], cwd=ROOT, check=True)
    return binary, ceiling


def collect_help(binary):
    return subprocess.run([binary, "collect", "--help"], capture_output=True, text=True).stdout


def default_concurrency(help_text):
    m = re.search(r"--concurrency <N>.*?\[default: (\d+)\]", help_text, re.S)
    return int(m.group(1)) if m else 32


def run_ceiling(ceiling, endpoint, creds, trail_arns, concurrency, calls, work, label, moto=None):
    env = aws_env(endpoint, creds)
    # The loop cycles through the trails it is given; 1,000 keep the command line short at any scale.
    res = measure([ceiling, "--endpoint-url", endpoint, "--trails", ",".join(trail_arns[:1000]), "--concurrency", str(concurrency),
                   "--calls", str(calls), "--warmup", str(CEILING_WARMUP)], env,
                  os.path.join(work, f"ceiling-{label}.log"), moto=moto)
    with open(res["log"]) as f:
        line = [l for l in f if l.startswith("{")]
    if res["rc"] != 0 or not line:
        sys.exit(f"sdk_ceiling failed ({res['rc']}):\n{tail(res['log'])}")
    out = json.loads(line[-1])
    out["requests"] = out["calls"] + CEILING_WARMUP
    # moto's CPU and busy share over the whole process, its untimed warm-up calls included (moto's
    # CPU per call divides by those too); collect's figures are taken the same way.
    if res["moto_cpu_s"] is not None:
        out["moto_cpu_s"] = res["moto_cpu_s"]
        out["moto_busy"] = res["moto_cpu_s"] / res["wall_s"]
    return out


# ---------------------------------------------------------------------------- auditpack

def collect_command(binary, out, accounts, regions, concurrency, multi_account, history=True):
    """The one place that knows the collect flags: the multi-account form once the binary has it."""
    cmd = [binary, "collect", "--quiet", "--out", out, "--regions", ",".join(regions)]
    if not history:
        cmd.append("--no-history")
    if multi_account:
        cmd += ["--accounts", ",".join(accounts), "--role-name", ROLE_NAME]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    return cmd


def run_collect(binary, endpoint, creds, accounts, regions, out, multi, concurrency=None, progress=None,
                moto=None, history=True):
    res = measure(collect_command(binary, out, accounts, regions, concurrency, multi, history),
                  aws_env(endpoint, creds), out + ".log", progress, moto)
    if res["rc"] not in (0, 3):  # 3: incomplete, as moto answers two S3 calls unparseably
        sys.exit(f"collect failed ({res['rc']}):\n{tail(res['log'])}")
    with open(os.path.join(out, "pack.json")) as f:
        res["counts"] = json.load(f)["counts"]
    return res


def run_report(binary, pack, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # report never calls AWS
    res = measure([binary, "report", "--quiet", "--pack", pack, "--out", out], env, out + ".log")
    if res["rc"] != 0:
        sys.exit(f"report failed ({res['rc']}):\n{tail(res['log'])}")
    with open(os.path.join(out, "findings.json")) as f:
        res["summary"] = json.load(f)["summary"]
    return res


def auditpack_verdicts(report_dir):
    """{trail ARN: status} of the primary check, from findings.csv (one row per trail and check)."""
    verdicts, clashes = {}, []
    with open(os.path.join(report_dir, "findings.csv"), newline="") as f:
        for row in csv.DictReader(f):
            if row["check_id"] == AUDITPACK_CHECK:
                arn = row["trail_arn"]
                if verdicts.get(arn, row["status"]) != row["status"]:
                    clashes.append(arn)
                verdicts[arn] = row["status"]
    return verdicts, clashes


# ---------------------------------------------------------------------------- Prowler

def ensure_prowler():
    prowler = os.path.join(PROWLER_VENV, "bin", "prowler")
    if not os.path.exists(prowler):
        say(f"installing {PROWLER_SPEC} into {PROWLER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", PROWLER_VENV], check=True)
        pip = os.path.join(PROWLER_VENV, "bin", "pip")
        subprocess.run([pip, "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([pip, "install", "--quiet", PROWLER_SPEC], check=True)
    return prowler


def prowler_version():
    out = subprocess.run([os.path.join(PROWLER_VENV, "bin", "pip"), "show", "prowler"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^Version: (.+)$", out, re.M)
    return m.group(1).strip() if m else "unknown"


def run_prowler(prowler, endpoint, facts, regions, work):
    """One Prowler run for one account; returns its measurement and its output directory."""
    out = os.path.join(work, f"prowler-{facts['account']}")
    cmd = [prowler, "aws", "--checks", PROWLER_CHECK, "--region", *regions, "--no-banner", "--no-color",
           "--ignore-exit-code-3", "--output-directory", out, "--output-formats", "json-ocsf", "csv"]
    res = measure(cmd, aws_env(endpoint, facts["credentials"]), out + ".log",
                  progress=f"prowler {facts['account']}")
    res["out"] = out
    if res["rc"] != 0:
        print(f"prowler failed for {facts['account']} ({res['rc']}):\n{tail(res['log'])}", file=sys.stderr)
    return res


def prowler_verdicts(out_dirs):
    """{trail ARN: PASS/FAIL} from Prowler's OCSF JSON: one finding per trail, status_code PASS or FAIL,
    the trail ARN in resources[].uid."""
    verdicts, clashes = {}, []
    for out in out_dirs:
        for path in glob.glob(os.path.join(out, "*.ocsf.json")):
            with open(path) as f:
                for finding in json.load(f):
                    for resource in finding["resources"]:
                        arn = resource["uid"]
                        if verdicts.get(arn, finding["status_code"]) != finding["status_code"]:
                            clashes.append(arn)
                        verdicts[arn] = finding["status_code"]
    return verdicts, clashes


# ---------------------------------------------------------------------------- agreement

def seeded_verdicts(facts):
    return {t["arn"]: "PASS" if t["encrypted"] else "FAIL" for f in facts for t in f["trails"]}


def compare(truth, auditpack, prowler):
    """Rows (arn, seeded, auditpack, prowler) wherever any of them differ; prowler None means skipped."""
    arns = set(truth) | set(auditpack) | set(prowler or {})
    rows = []
    for arn in sorted(arns):
        row = (arn, truth.get(arn, "-"), auditpack.get(arn, "-"),
               "skipped" if prowler is None else prowler.get(arn, "-"))
        if len({v for v in row[1:] if v != "skipped"}) > 1:
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------- scenarios

def main_run(args, binary, ceiling, work, regions, accounts, multi):
    proc, endpoint = start_moto(work)
    result = {"endpoint": endpoint}
    try:
        t0 = time.perf_counter()
        facts = seed_org(endpoint, accounts, args.trails, regions)
        result["seed_s"] = time.perf_counter() - t0
        result["seeded"] = {"trails": sum(len(f["trails"]) for f in facts), "keys": sum(f["keys"] for f in facts),
                            "buckets": sum(f["buckets"] for f in facts)}
        say(f"seeded {result['seeded']['trails']} trails, {result['seeded']['keys']} keys, "
            f"{result['seeded']['buckets']} buckets over {len(accounts)} accounts x {len(regions)} regions "
            f"in {result['seed_s']:.1f} s")
        mgmt = facts[0]["credentials"]
        concurrency = default_concurrency(collect_help(binary))
        trail_arns = [t["arn"] for t in facts[0]["trails"]]

        # This machine's speed drifts by a fifth or more within minutes, so every measurement is taken
        # twice and brackets the others: ceiling, auditpack, Prowler, auditpack, ceiling. Ratios use
        # the means, and each pair is printed so the drift can be seen.
        def ceiling_run(label):
            say(f"ceiling ({label}): sdk_ceiling GetTrailStatus x {args.ceiling_calls}, concurrency {concurrency}")
            out = run_ceiling(ceiling, endpoint, mgmt, trail_arns, concurrency, args.ceiling_calls, work, label, proc)
            say(f"ceiling ({label}) {out['calls_per_s']:.0f} calls/s")
            return out

        def auditpack_run(n):
            pack, reports = os.path.join(work, f"pack-{n}"), os.path.join(work, f"reports-{n}")
            say(f"auditpack collect, run {n}" + (" (multi-account form)" if multi else " (single-account form)"))
            col = run_collect(binary, endpoint, mgmt, accounts, regions, pack, multi, moto=proc)
            say(f"collect {col['wall_s']:.2f} s, exit {col['rc']}; auditpack report")
            rep = run_report(binary, pack, reports)
            say(f"report {rep['wall_s']:.2f} s")
            return {"collect": col, "report": rep, "verdicts": auditpack_verdicts(reports)}

        result["ceilings"] = [ceiling_run("before")]
        runs = [auditpack_run(1)]
        ap, ap_clash = runs[0]["verdicts"]

        pw, pw_clash = None, []
        if not args.skip_prowler:
            prowler = ensure_prowler()
            result["prowler_version"] = prowler_version()
            result["prowler"] = []
            for f in facts:
                say(f"prowler {result['prowler_version']} for account {f['account']}")
                result["prowler"].append(run_prowler(prowler, endpoint, f, regions, work))
                say(f"prowler {f['account']}: {result['prowler'][-1]['wall_s']:.1f} s")
            pw, pw_clash = prowler_verdicts([r["out"] for r in result["prowler"]])
            result["prowler_counts"] = {s: sum(1 for v in pw.values() if v == s) for s in sorted(set(pw.values()))}
        runs.append(auditpack_run(2))
        result["ceilings"].append(ceiling_run("after"))
        runs_agree = runs[1]["verdicts"][0] == ap
        ap_clash = ap_clash + [a for a in runs[1]["verdicts"][1] if a not in ap_clash]
        for r in runs:
            del r["verdicts"]
        result["auditpack_runs"] = runs
        truth = seeded_verdicts(facts)
        if not multi:  # the single-account form collects the management account only
            truth = {a: v for a, v in truth.items() if f":{accounts[0]}:" in a}
        result["agreement"] = {
            "trails_seeded": len(truth), "trails_auditpack": len(ap),
            "trails_prowler": None if pw is None else len(pw),
            "disagreements": compare(truth, ap, pw), "clashes": ap_clash + pw_clash,
            "prowler_failed": [r["rc"] for r in result.get("prowler", []) if r["rc"] != 0],
            "auditpack_runs_agree": runs_agree,
        }
        if args.latency_ms:
            result["latency"] = latency_run(args, binary, endpoint, mgmt, accounts, regions, multi, work, proc)
    finally:
        stop(proc)
    return result


def history_runs(binary, target, creds, accounts, regions, multi, work, moto, proxy):
    """collect at the default concurrency with Event history and with --no-history, alternated three times (this
    machine's speed drifts): the cost of reading the period's changes, as a ratio of means. Also how much
    CPU the emulator and the latency proxy spent meanwhile: on this 2-core machine they, not the
    latency, can bound a run."""
    runs = {"with": [], "without": []}
    for n in (1, 2, 3):
        for label, history in (("with", True), ("without", False)):
            out = os.path.join(work, f"pack-history-{label}-{n}")
            say(f"collect through the proxy, {'with Event history' if history else '--no-history'} (run {n})")
            proxy_before = process_cpu_s(proxy)
            res = run_collect(binary, target, creds, accounts, regions, out, multi, history=history,
                              progress=f"collect {label} history", moto=moto)
            proxy_after = process_cpu_s(proxy)
            res["proxy_cpu_s"] = None if proxy_before is None else proxy_after - proxy_before
            with open(os.path.join(out, "index.jsonl")) as f:
                res["lookups"] = sum(1 for line in f if '"LookupEvents"' in line)
            runs[label].append(res)
            say(f"  {res['wall_s']:.1f} s, {res['counts']['calls']} calls ({res['lookups']} LookupEvents records); "
                f"moto CPU {res['moto_cpu_s'] or 0:.1f} s, proxy CPU {res['proxy_cpu_s'] or 0:.1f} s")
    runs["ratio"] = mean([r["wall_s"] for r in runs["with"]]) / mean([r["wall_s"] for r in runs["without"]])
    return runs


def latency_run(args, binary, endpoint, creds, accounts, regions, multi, work, moto=None):
    # moto has no Event history: its answers to LookupEvents are made up, so by default the latency
    # proxy makes them (same delay, same shape) and moto's CPU per call is not charged to the lookups;
    # --history-via-moto has moto answer them (tests/fixtures/moto_server.py), CPU and all.
    empty = ["--empty-event-history"] if args.history_compare and not args.history_via_moto else []
    proxy, target = start_proxy(endpoint, "--delay-ms", str(args.latency_ms), *empty)
    try:
        say(f"latency mode: every answer delayed {args.latency_ms} ms through {target}")
        if args.history_compare:
            return {"history": history_runs(binary, target, creds, accounts, regions, multi, work, moto, proxy)}
        runs = {}
        for label, concurrency in (("default", None), ("c1", 1)):
            say(f"collect through the proxy, concurrency {concurrency or 'default'}")
            out = os.path.join(work, f"pack-latency-{label}")
            runs[label] = run_collect(binary, target, creds, accounts, regions, out, multi, concurrency,
                                      progress=f"collect --concurrency {concurrency or 'default'}")
            say(f"  {runs[label]['wall_s']:.1f} s, {runs[label]['counts']['calls']} calls")
        runs["speedup"] = runs["c1"]["wall_s"] / runs["default"]["wall_s"]
        return runs
    finally:
        stop(proxy)


def scale_run(args, binary, work, regions, accounts, multi):
    """Peak memory of collect+report at --scale-trails on a fresh moto; None with a reason if too slow."""
    sub = os.path.join(work, "scale")
    os.makedirs(sub)
    proc, endpoint = start_moto(sub)
    try:
        say(f"scale: seeding {args.scale_trails} trails (gives up after {args.scale_seed_timeout} s)")
        t0 = time.perf_counter()
        try:
            facts = seed_org(endpoint, accounts, args.scale_trails, regions, timeout=args.scale_seed_timeout)
        except subprocess.TimeoutExpired:
            return {"skipped": f"seeding {args.scale_trails} trails took over {args.scale_seed_timeout} s"}
        seed_s = time.perf_counter() - t0
        say(f"scale: seeded in {seed_s:.0f} s; collect")
        pack, reports = os.path.join(sub, "pack"), os.path.join(sub, "reports")
        col = run_collect(binary, endpoint, facts[0]["credentials"], accounts, regions, pack, multi,
                          progress="scale collect")
        rep = run_report(binary, pack, reports)
        return {"trails": args.scale_trails, "seed_s": seed_s, "collect": col, "report": rep}
    finally:
        stop(proc)


# ---------------------------------------------------------------------------- summary

def mib(kib):
    return kib / 1024


def mean(values):
    return sum(values) / len(values)


def summarise(args, r, regions, accounts, multi):
    ceilings = r["ceilings"]
    cols, reps = [x["collect"] for x in r["auditpack_runs"]], [x["report"] for x in r["auditpack_runs"]]
    ap_runs = [{"collect_s": c["wall_s"], "report_s": p["wall_s"], "collect_exit": c["rc"],
                "collect_calls_per_s": c["counts"]["calls"] / c["wall_s"],
                "collect_peak_rss_mib": mib(c["peak_rss_kib"]), "report_peak_rss_mib": mib(p["peak_rss_kib"]),
                "moto_cpu_s": c["moto_cpu_s"]} for c, p in zip(cols, reps)]
    end_to_end = mean([x["collect_s"] + x["report_s"] for x in ap_runs])
    ap_peak = max(x["peak_rss_kib"] for x in cols + reps)
    ceiling = mean([c["calls_per_s"] for c in ceilings])
    calls_per_s = mean([x["collect_calls_per_s"] for x in ap_runs])
    s = {
        "trails": args.trails, "accounts": accounts, "regions": regions,
        "collect_form": "multi-account" if multi else "single-account (management account only)",
        "seed_s": r["seed_s"], "seeded": r["seeded"],
        "ceiling_calls_per_s": ceiling, "ceilings": ceilings,
        "collect_s": mean([x["collect_s"] for x in ap_runs]), "collect_exit": cols[0]["rc"],
        "report_s": mean([x["report_s"] for x in ap_runs]),
        "auditpack_end_to_end_s": end_to_end,
        "auditpack_runs": ap_runs,
        "collect_peak_rss_mib": mib(max(c["peak_rss_kib"] for c in cols)),
        "report_peak_rss_mib": mib(max(p["peak_rss_kib"] for p in reps)),
        "pack_counts": cols[0]["counts"], "rule_summary": reps[0]["summary"].get("rule"),
        "collect_calls_per_s": calls_per_s, "fraction_of_ceiling": calls_per_s / ceiling,
        "agreement": r["agreement"],
    }
    # How busy each tool kept the emulator, and what one call cost it: collect's calls are a mix, and
    # moto spends more on an S3 or KMS call than on GetTrailStatus, so collect's calls/s can only reach
    # the ceiling's if moto is also idle during the ceiling loop.
    if all(x.get("moto_cpu_s") is not None for x in ceilings + cols):
        s["moto"] = {
            "busy_during_ceiling": mean([c["moto_busy"] for c in ceilings]),
            "busy_during_collect": mean([c["moto_cpu_s"] / c["wall_s"] for c in cols]),
            "cpu_ms_per_ceiling_call": 1000 * sum(c["moto_cpu_s"] for c in ceilings) / sum(c["requests"] for c in ceilings),
            # records: every attempt, retries included, each of which moto answered
            "cpu_ms_per_collect_call": 1000 * sum(c["moto_cpu_s"] for c in cols) / sum(c["counts"]["records"] for c in cols),
        }
        m = s["moto"]
        m["mix_cost"] = m["cpu_ms_per_collect_call"] / m["cpu_ms_per_ceiling_call"]
        # The same ceiling in moto's work rather than in calls: what collect reached of it.
        m["fraction_of_ceiling_at_collect_mix"] = s["fraction_of_ceiling"] * m["mix_cost"]
    if "prowler" in r:
        runs = r["prowler"]
        total = sum(p["wall_s"] for p in runs)
        pw_peak = max(p["peak_rss_kib"] for p in runs)
        s.update({
            "prowler_version": r["prowler_version"],
            "prowler_runs": [{"account": a, "wall_s": p["wall_s"], "peak_rss_mib": mib(p["peak_rss_kib"]),
                              "exit": p["rc"]} for a, p in zip(accounts, runs)],
            "prowler_total_s": total, "prowler_peak_rss_mib": mib(pw_peak),
            "prowler_findings": r["prowler_counts"],
            "time_ratio_prowler_over_auditpack": total / end_to_end,
            "memory_ratio_prowler_over_auditpack": pw_peak / ap_peak,
        })
    if "latency" in r and "history" in r["latency"]:
        h = r["latency"]["history"]
        s["history"] = {"delay_ms": args.latency_ms,
                        "with_s": [x["wall_s"] for x in h["with"]], "without_s": [x["wall_s"] for x in h["without"]],
                        "with_emulator_cpu_s": [(x["moto_cpu_s"] or 0) + (x["proxy_cpu_s"] or 0) for x in h["with"]],
                        "without_emulator_cpu_s": [(x["moto_cpu_s"] or 0) + (x["proxy_cpu_s"] or 0) for x in h["without"]],
                        "with_calls": h["with"][0]["counts"]["calls"], "without_calls": h["without"][0]["counts"]["calls"],
                        "lookups": h["with"][0]["lookups"], "ratio": h["ratio"],
                        "answered_by": "moto (tests/fixtures/moto_server.py)" if args.history_via_moto
                        else "the latency proxy (--empty-event-history)"}
    elif "latency" in r:
        lat = r["latency"]
        s["latency"] = {"delay_ms": args.latency_ms, "default_s": lat["default"]["wall_s"],
                        "c1_s": lat["c1"]["wall_s"], "speedup": lat["speedup"],
                        "calls": lat["default"]["counts"]["calls"]}
    if "scale" in r:
        sc = r["scale"]
        if "skipped" in sc:
            s["scale"] = sc
        else:
            peak = max(sc["collect"]["peak_rss_kib"], sc["report"]["peak_rss_kib"])
            s["scale"] = {"trails": sc["trails"], "seed_s": sc["seed_s"], "collect_s": sc["collect"]["wall_s"],
                          "report_s": sc["report"]["wall_s"],
                          "collect_peak_rss_mib": mib(sc["collect"]["peak_rss_kib"]),
                          "report_peak_rss_mib": mib(sc["report"]["peak_rss_kib"]),
                          "peak_ratio_vs_main": peak / ap_peak, "pack_counts": sc["collect"]["counts"]}
    return s


def print_summary(s):
    line = lambda k, v: print(f"  {k:<42} {v}")
    c = s["pack_counts"]
    print(f"\n== auditpack org benchmark: {s['trails']} trails, {len(s['accounts'])} accounts, "
          f"{len(s['regions'])} regions ==")
    line("collect form", s["collect_form"])
    line("seeded", f"{s['seeded']['trails']} trails, {s['seeded']['keys']} keys, {s['seeded']['buckets']} "
                   f"buckets ({s['seed_s']:.1f} s)")
    line("pack", f"{c['trails']} trails, {c['keys']} keys, {c['buckets']} buckets, {c['calls']} calls, "
                 f"{c['records']} records, {c['gaps']} gaps (collect exit {s['collect_exit']})")
    rule = s["rule_summary"] or {}
    line("auditpack 3.7 verdicts", f"{rule.get('pass')} PASS, {rule.get('fail')} FAIL, {rule.get('unknown')} UNKNOWN")
    when = "run 1 before Prowler and run 2 after it" if "prowler_runs" in s else "runs 1 and 2"
    print(f"  -- wall time (auditpack: mean of {when}) --")
    for i, run in enumerate(s["auditpack_runs"], 1):
        line(f"auditpack run {i}: collect / report", f"{run['collect_s']:8.2f} s / {run['report_s']:.2f} s "
                                                     f"(collect exit {run['collect_exit']})")
    line("auditpack collect", f"{s['collect_s']:8.2f} s")
    line("auditpack report", f"{s['report_s']:8.2f} s")
    line("auditpack end to end (collect + report)", f"{s['auditpack_end_to_end_s']:8.2f} s")
    for p in s.get("prowler_runs", []):
        line(f"prowler account {p['account']}", f"{p['wall_s']:8.2f} s  (exit {p['exit']})")
    if "prowler_total_s" in s:
        line("prowler total", f"{s['prowler_total_s']:8.2f} s")
    print("  -- peak RSS --")
    line("auditpack collect", f"{s['collect_peak_rss_mib']:8.1f} MiB")
    line("auditpack report", f"{s['report_peak_rss_mib']:8.1f} MiB")
    for p in s.get("prowler_runs", []):
        line(f"prowler account {p['account']}", f"{p['peak_rss_mib']:8.1f} MiB")
    if "prowler_peak_rss_mib" in s:
        line("prowler max", f"{s['prowler_peak_rss_mib']:8.1f} MiB")
    print("  -- throughput and ratios --")
    before, after = s["ceilings"]
    line("ceiling (bare SDK GetTrailStatus)", f"{s['ceiling_calls_per_s']:8.0f} calls/s "
                                              f"(before {before['calls_per_s']:.0f}, after {after['calls_per_s']:.0f}; "
                                              f"concurrency {before['concurrency']})")
    runs = ", ".join(f"{r['collect_calls_per_s']:.0f}" for r in s["auditpack_runs"])
    line("collect", f"{s['collect_calls_per_s']:8.0f} calls/s (runs {runs}) = {100 * s['fraction_of_ceiling']:.0f}% "
                    f"of ceiling (goal >= 90%)")
    if "moto" in s:
        m = s["moto"]
        line("moto busy: ceiling loop / collect", f"{100 * m['busy_during_ceiling']:8.0f}% / "
                                                  f"{100 * m['busy_during_collect']:.0f}% of a core")
        line("moto CPU per call: GetTrailStatus / collect",
             f"{m['cpu_ms_per_ceiling_call']:8.2f} / {m['cpu_ms_per_collect_call']:.2f} ms "
             f"(collect's mix costs {m['mix_cost']:.2f}x)")
        line("collect, counting moto's work per call", f"{100 * m['fraction_of_ceiling_at_collect_mix']:8.0f}% of ceiling "
                                                         "(the fraction above times the mix cost)")
    if "prowler_total_s" in s:
        line("prowler total / auditpack end to end", f"{s['time_ratio_prowler_over_auditpack']:8.1f}x")
        line("prowler peak / auditpack peak", f"{s['memory_ratio_prowler_over_auditpack']:8.1f}x")
        line("prowler findings", ", ".join(f"{n} {k}" for k, n in s["prowler_findings"].items()))
    if "latency" in s:
        lat = s["latency"]
        line(f"collect +{lat['delay_ms']} ms/answer: default", f"{lat['default_s']:8.1f} s ({lat['calls']} calls)")
        line(f"collect +{lat['delay_ms']} ms/answer: --concurrency 1", f"{lat['c1_s']:8.1f} s")
        line("speed-up default over --concurrency 1", f"{lat['speedup']:8.1f}x (goal >= 15x at 1,000 trails)")
    if "history" in s:
        h = s["history"]
        fmt = lambda xs: " / ".join(f"{x:.1f}" for x in xs)
        line(f"collect +{h['delay_ms']} ms/answer, Event history", f"{fmt(h['with_s'])} s ({h['with_calls']} calls, "
                                                                     f"{h['lookups']} LookupEvents records)")
        line(f"collect +{h['delay_ms']} ms/answer, --no-history", f"{fmt(h['without_s'])} s ({h['without_calls']} calls)")
        line("moto + proxy CPU: with / without", f"{fmt(h['with_emulator_cpu_s'])} s / "
                                                 f"{fmt(h['without_emulator_cpu_s'])} s (2 cores)")
        line("LookupEvents answered by", h["answered_by"])
        line("with history / without (means)", f"{h['ratio']:8.2f}x (goal <= 1.5x)")
    if "scale" in s:
        sc = s["scale"]
        if "skipped" in sc:
            line("scale run", "skipped: " + sc["skipped"])
        else:
            line(f"{sc['trails']} trails: collect / report", f"{sc['collect_s']:.1f} s / {sc['report_s']:.1f} s")
            line(f"{sc['trails']} trails: peak RSS collect / report",
                 f"{sc['collect_peak_rss_mib']:.1f} / {sc['report_peak_rss_mib']:.1f} MiB "
                 f"({sc['peak_ratio_vs_main']:.1f}x the {s['trails']}-trail peak)")
    a = s["agreement"]
    print("  -- agreement on CIS 3.7, by trail ARN --")
    line("trails seeded / auditpack / prowler", f"{a['trails_seeded']} / {a['trails_auditpack']} / "
                                                f"{a['trails_prowler'] if a['trails_prowler'] is not None else 'skipped'}")
    for arn, truth, ap, pw in a["disagreements"][:50]:
        print(f"    DISAGREE {arn}: seeded {truth}, auditpack {ap}, prowler {pw}")
    if len(a["disagreements"]) > 50:
        print(f"    ... and {len(a['disagreements']) - 50} more")
    for arn in a["clashes"]:
        print(f"    CLASH {arn}: one tool gave this trail two different verdicts")
    if a["prowler_failed"]:
        print(f"    prowler exited nonzero: {a['prowler_failed']}")
    if not a["auditpack_runs_agree"]:
        print("    auditpack's two runs gave different verdicts")
    ok = not (a["disagreements"] or a["clashes"] or a["prowler_failed"]) and a["auditpack_runs_agree"]
    line("result", "AGREE on every trail" if ok else "DISAGREEMENT")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trails", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--binary", help="auditpack binary to use; skips building")
    parser.add_argument("--skip-prowler", action="store_true")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--history-compare", action="store_true",
                        help="with --latency-ms: collect with Event history vs --no-history, instead of the "
                             "--concurrency 1 comparison")
    parser.add_argument("--history-via-moto", action="store_true",
                        help="with --history-compare: moto answers LookupEvents (empty) instead of the proxy")
    parser.add_argument("--ceiling-calls", type=int, default=5000)
    parser.add_argument("--scale-trails", type=int, default=0, help="also measure memory at this many trails")
    parser.add_argument("--scale-seed-timeout", type=int, default=600)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    if not 1 <= args.regions <= len(ALL_REGIONS):
        sys.exit(f"--regions must be 1..{len(ALL_REGIONS)}")
    regions, accounts = ALL_REGIONS[: args.regions], account_ids(args.accounts)
    binary, ceiling = build(args)
    multi = "--accounts" in collect_help(binary)
    work = tempfile.mkdtemp(prefix="auditpack-bench-org-")
    say(f"work directory {work}")
    device = unjournaled_ext4(work)
    if device:
        say(f"note: {work} is on ext4 without a journal ({device}); files deleted there in the last few "
            "minutes make creating the pack's files cost CPU that moto is short of (see unjournaled_ext4)")
    try:
        result = main_run(args, binary, ceiling, work, regions, accounts, multi)
        if args.scale_trails:
            result["scale"] = scale_run(args, binary, work, regions, accounts, multi)
        summary = summarise(args, result, regions, accounts, multi)
        summary["work_on_unjournaled_ext4"] = device
        ok = print_summary(summary)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=2)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

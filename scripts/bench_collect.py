#!/usr/bin/env python3
"""Collection benchmark: seeds a fresh moto with N trails over 3 regions (half encrypted with shared keys,
shared buckets), then times `auditpack collect` at the default concurrency and at --concurrency 1 in
the same run, and prints wall time, API calls per second, peak memory and the speed-up.

    scripts/bench_collect.py [--trails 200] [--repeat 3] [--latency-ms 0] [--binary target/release/auditpack]

With --latency-ms, calls go through tests/fixtures/fault_proxy.py, which adds that much latency to
every answer, as real AWS endpoints have; that is where concurrency pays.

Builds the release binary first unless --binary is given. Talks only to a moto server it starts on a
free loopback port, and stops it at the end.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGIONS = "us-east-1,eu-west-1,us-west-2"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    log = open(os.path.join(tempfile.gettempdir(), f"bench-moto-{port}.log"), "w")
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/")
            return proc, endpoint
        except Exception:
            time.sleep(0.1)
    proc.kill()
    sys.exit("moto_server did not start")


def run_collect(binary, endpoint, creds, concurrency, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(creds)
    env.update({"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [binary, "collect", "--quiet", "--out", out, "--regions", REGIONS, "--concurrency", str(concurrency)],
        env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        sys.exit(f"collect failed ({proc.returncode}): {proc.stderr}")
    header = json.load(open(os.path.join(out, "pack.json")))
    # ru_maxrss of children is the largest child so far: report it only when this run raised it.
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, header["counts"], peak_kib if peak_kib > before else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trails", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--binary")
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "auditpack")
    proc, endpoint = start_moto()
    work = tempfile.mkdtemp(prefix="auditpack-bench-")
    try:
        seeded = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "fixtures", "seed.py"), "--endpoint", endpoint,
             "--account", "444455556666", "--prefix", "bench", "--trails", str(args.trails),
             "--regions", REGIONS, "bench"],
            capture_output=True, text=True, check=True,
        )
        facts = json.loads(seeded.stdout)
        print(f"seeded {len(facts['trails'])} trails over {REGIONS}: {facts['keys']} keys, "
              f"{facts['buckets']} buckets (half the trails encrypted)")
        target = endpoint
        proxy = None
        if args.latency_ms:
            proxy = subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "tests", "fixtures", "fault_proxy.py"), "--upstream", endpoint,
                 "--fail-every", "0", "--delay-ms", str(args.latency_ms)],
                stdout=subprocess.PIPE, text=True)
            target = f"http://127.0.0.1:{proxy.stdout.readline().strip()}"
            print(f"every answer delayed by {args.latency_ms} ms through {target}")
        results = {}
        for label, concurrency in (("default (16)", 16), ("--concurrency 1", 1)):
            walls = []
            for i in range(args.repeat):
                out = os.path.join(work, f"pack-{concurrency}-{i}")
                wall, counts, peak = run_collect(binary, target, facts["credentials"], concurrency, out)
                walls.append(wall)
                shutil.rmtree(out)
            best = min(walls)
            results[label] = (best, counts)
            print(f"{label:>16}: best of {args.repeat} {best:.2f} s, {counts['calls']} calls, "
                  f"{counts['calls'] / best:.0f} calls/s, trails {counts['trails']}, keys {counts['keys']}, "
                  f"buckets {counts['buckets']}")
        fast, slow = results["default (16)"][0], results["--concurrency 1"][0]
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"speed-up of the default concurrency over --concurrency 1: {slow / fast:.2f}x")
        print(f"peak RSS of any collect run: {peak / 1024:.1f} MiB")
        if proxy:
            proxy.terminate()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

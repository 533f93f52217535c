#!/usr/bin/env python3
"""Records samples/acme-org-2026-Q4, the bundled multi-account sample, from a fresh local moto server.

An organisation with a management account (210987654321, the `standard` scenario of
tests/fixtures/seed.py: passing, unencrypted, disabled-key, pending-deletion-key, missing-key and
deleted-bucket trails over three regions) and three member accounts: one with the `standard` scenario,
one with a few bench trails, and one whose AuditpackReader role refuses to be assumed (played by
tests/fixtures/fault_proxy.py --deny-assume-role), so the reports show a per-account table with a
NOT COLLECTED row. Collected with `auditpack collect --org --role-name AuditpackReader`.

    scripts/record_org_sample.py [--binary target/release/auditpack] [--out samples/acme-org-2026-Q4]

Talks only to the moto server it starts on a loopback port; refuses to overwrite an existing sample.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
MANAGEMENT = "210987654321"
REGIONS = "us-east-1,eu-west-1,us-west-2"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    log = open(os.path.join(tempfile.gettempdir(), f"sample-moto-{port}.log"), "w")
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


def run_json(args):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "auditpack"))
    parser.add_argument("--out", default=os.path.join(ROOT, "samples", "acme-org-2026-Q4"))
    args = parser.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"{args.out} exists; remove it first to record a new sample")
    moto, endpoint = start_moto()
    proxy = None
    try:
        org = run_json([os.path.join(FIXTURES, "seed_org.py"), "--endpoint", endpoint,
                        "--management", MANAGEMENT, "--members", "3", "--name-prefix", "acme"])
        payments, data, locked = (m["id"] for m in org["members"])
        seed = os.path.join(FIXTURES, "seed.py")
        run_json([seed, "--endpoint", endpoint, "--account", MANAGEMENT, "--prefix", "acme-audit", "standard"])
        run_json([seed, "--endpoint", endpoint, "--account", payments, "--prefix", "acme-pay", "standard"])
        run_json([seed, "--endpoint", endpoint, "--account", data, "--prefix", "acme-data", "--trails", "6",
                  "--regions", REGIONS, "bench"])
        run_json([seed, "--endpoint", endpoint, "--account", locked, "--prefix", "acme-locked", "--trails", "2",
                  "--regions", REGIONS, "bench"])
        proxy = subprocess.Popen([sys.executable, os.path.join(FIXTURES, "fault_proxy.py"), "--upstream", endpoint,
                                  "--fail-every", "0", "--deny-assume-role", locked],
                                 stdout=subprocess.PIPE, text=True)
        target = f"http://127.0.0.1:{proxy.stdout.readline().strip()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(org["credentials"])
        env.update({"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": target, "AWS_EC2_METADATA_DISABLED": "true"})
        done = subprocess.run([args.binary, "collect", "--quiet", "--out", args.out, "--regions", REGIONS,
                               "--org", "--role-name", "AuditpackReader"], env=env, text=True)
        if done.returncode not in (0, 3):
            sys.exit(f"collect failed with exit {done.returncode}")
    finally:
        if proxy:
            proxy.terminate()
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()

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
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_aws import ROOT, aws_env, start_moto, start_proxy, stop  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
MANAGEMENT = "210987654321"
REGIONS = "us-east-1,eu-west-1,us-west-2"


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
    moto, endpoint = start_moto(tempfile.gettempdir())
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
        proxy, target = start_proxy(endpoint, "--deny-assume-role", locked)
        done = subprocess.run([args.binary, "collect", "--quiet", "--out", args.out, "--regions", REGIONS,
                               "--org", "--role-name", "AuditpackReader"],
                              env=aws_env(target, org["credentials"]), text=True)
        if done.returncode not in (0, 3):
            sys.exit(f"collect failed with exit {done.returncode}")
    finally:
        stop(proxy)
        stop(moto)


if __name__ == "__main__":
    main()

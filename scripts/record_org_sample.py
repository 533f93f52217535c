#!/usr/bin/env python3
"""Records samples/acme-org-2026-Q4, the bundled organisation sample, from the replay backend
(tests/fixtures/replay), which answers in the shapes AWS's API references give, not an emulator's.

The organisation is laid out as AWS recommends (scenario_acme_sample.json): a Control Tower management
account with the organisation trail, its KMS key in the Audit account and its bucket in Log Archive; a
workload account with an unencrypted trail of its own, a legacy trail whose key is disabled and whose
bucket was deleted, and a region denied by SCP; a sandbox; a member whose audit role trusts nobody; and
a standalone legacy account outside the organisation with no trail. Collected from the management
account with `auditpack collect --accounts-file ... --role-name AuditpackReader` over three regions.

    scripts/record_org_sample.py [--binary target/release/auditpack] [--out samples/acme-org-2026-Q4]

Talks only to the replay server it starts on a loopback port; refuses to overwrite an existing sample.
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPLAY = os.path.join(ROOT, "tests", "fixtures", "replay")
REGIONS = "us-east-1,eu-west-1,eu-west-3"
ACCOUNTS = """account_id,name
# The Q4 audit scope: the organisation, and the legacy account not yet moved into it.
311141592653,acme-management
422271828182,Audit
533316180339,Log Archive
644414213562,acme-workload-prod
755517320508,acme-sandbox
977729382715,acme-locked
866623606797,acme-legacy-standalone
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "auditpack"))
    parser.add_argument("--out", default=os.path.join(ROOT, "samples", "acme-org-2026-Q4"))
    args = parser.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"{args.out} exists; remove it first to record a new sample")
    server = subprocess.Popen(
        [sys.executable, os.path.join(REPLAY, "replay_server.py"), "--port", "0",
         "--scenario", os.path.join(REPLAY, "scenario_acme_sample.json")],
        stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().split()[1]
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as accounts:
            accounts.write(ACCOUNTS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="AKIAREPLAYMGMT000001", AWS_SECRET_ACCESS_KEY="replay-secret",
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                   AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                   AWS_EC2_METADATA_DISABLED="true")
        done = subprocess.run([args.binary, "collect", "--quiet", "--out", args.out, "--regions", REGIONS,
                               "--accounts-file", accounts.name, "--role-name", "AuditpackReader"],
                              env=env, text=True)
        os.unlink(accounts.name)
        if done.returncode not in (0, 3):
            sys.exit(f"collect failed with exit {done.returncode}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

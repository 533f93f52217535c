"""What the scripts share to stand up a local AWS: a moto server on a free loopback port, the fault
proxy in front of it, and a clean environment pointing a tool at them. Imported by bench_org.py and
record_org_sample.py (not run on its own)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAULT_PROXY = os.path.join(ROOT, "tests", "fixtures", "fault_proxy.py")
MOTO_SERVER = os.path.join(ROOT, "tests", "fixtures", "moto_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log_dir):
    """A moto_server on 127.0.0.1, logging into log_dir; returns (process, endpoint URL)."""
    port = free_port()
    log = open(os.path.join(log_dir, f"moto-{port}.log"), "w")
    # moto's own server with an empty CloudTrail Event history added (moto has no LookupEvents).
    proc = subprocess.Popen([sys.executable, MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/")
            return proc, endpoint
        except Exception:
            time.sleep(0.1)
    proc.kill()
    sys.exit("moto_server did not start")


def start_proxy(upstream, *args):
    """tests/fixtures/fault_proxy.py in front of `upstream` with `args` (no 503s unless asked);
    returns (process, endpoint URL)."""
    proc = subprocess.Popen([sys.executable, FAULT_PROXY, "--upstream", upstream, "--fail-every", "0", *args],
                            stdout=subprocess.PIPE, text=True)
    return proc, f"http://127.0.0.1:{proc.stdout.readline().strip()}"


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def aws_env(endpoint, creds):
    """The environment for a tool under test: no AWS_* of ours, the account's credentials, the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(creds)
    env.update({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env

#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing (moto, the exchange formats'
# validators, poppler-utils, openssl, chromium for tests/browser.rs), starts a moto server on a free
# loopback port, runs `cargo test` against it, and stops the server.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test collect).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import moto, boto3, flask, cryptography' >/dev/null 2>&1 || ! command -v moto_server >/dev/null 2>&1; then
  echo "test.sh: installing moto[server] with pip" >&2
  python3 -m pip install --quiet 'moto[server]'
fi
# tests/formats.rs validates the OCSF, OSCAL and ASFF reports with each format's own schema or model
# library (tests/fixtures/validate_formats.py); botocore comes with moto.
if ! python3 -c 'import ocsf_json_schema, jsonschema, trestle.oscal.assessment_results, botocore' >/dev/null 2>&1; then
  echo "test.sh: installing the OCSF and OSCAL validators with pip" >&2
  python3 -m pip install --quiet 'ocsf-json-schema==1.2.0' 'compliance-trestle==5.2.0' 'jsonschema>=4.18'
fi
missing=""
command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
# tests/browser.rs drives Debian's Chromium over the DevTools protocol (tests/fixtures/browser.py,
# standard library only); without it those tests fail.
if [ -z "${AUDITPACK_CHROMIUM:-}" ]; then
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
fi
if [ -n "$missing" ]; then
  echo "test.sh: installing$missing" >&2
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    # shellcheck disable=SC2086
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq $missing >/dev/null
  else
    echo "test.sh: no apt-get; install$missing by hand" >&2; exit 2
  fi
fi

mkdir -p target
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto's own server, with an (empty) CloudTrail Event history added: moto has no LookupEvents.
python3 tests/fixtures/moto_server.py -H 127.0.0.1 -p "$port" >target/moto-test.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "test.sh: moto_server exited; see target/moto-test.log" >&2; exit 1; }
  sleep 0.2
done
export AUDITPACK_TEST_ENDPOINT="http://127.0.0.1:$port"
# The suite as CI runs it: the browser tests run, and fail without Chromium.
unset AUDITPACK_SKIP_BROWSER
echo "test.sh: moto_server on $AUDITPACK_TEST_ENDPOINT" >&2
cargo test "$@"

#!/usr/bin/env bash
# Report-stage benchmark: 1,000 and 10,000 synthetic trails to every format, each size in its own
# process (so peak memory is its own), then the time ratio (linear growth gives about 10x).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench report --quiet -- 1000 | tee /tmp/auditpack-bench-1k.txt
cargo bench --bench report --quiet -- 10000 | tee /tmp/auditpack-bench-10k.txt
python3 - <<'PY'
import re
def total(path):
    text = open(path).read()
    return float(re.search(r"report stage total ([0-9.]+)s", text).group(1))
small, large = total("/tmp/auditpack-bench-1k.txt"), total("/tmp/auditpack-bench-10k.txt")
print(f"10k/1k time ratio: {large / small:.1f}x for 10x the trails")
PY

#!/usr/bin/env bash
# The last error or warning a process logged, as "event: error", for `make start`.
# usage: last_error.sh LOGFILE   (JSON lines as the CLIs write them off a terminal, or plain text)
log=$1
line=$(grep -E '"level": ?"(error|warning|critical)"|^error:' "$log" 2>/dev/null | tail -n 1)
[[ -n $line ]] || line=$(tail -n 1 "$log" 2>/dev/null)
[[ -n $line ]] || { echo "(nothing logged; see $log)"; exit 0; }
python3 -c '
import json, sys
line = sys.argv[1]
try:
    entry = json.loads(line)
except ValueError:
    print(line)
else:
    what = entry.get("what") or entry.get("event")
    print(": ".join(str(v) for v in (what, entry.get("error")) if v) or line)
' "$line"

#!/usr/bin/env bash
# SIGTERM a process, wait up to SECONDS for it to exit, then SIGKILL it. Exit 0 once it is gone.
# usage: stop_pid.sh PID SECONDS   (for a consumer that never became ready: nothing in flight)
pid=$1; wait_s=$2
alive() { [[ $(ps -o stat= -p "$1" 2>/dev/null) =~ ^[^Z] ]]; }  # a zombie has exited
alive "$pid" || exit 0
kill -TERM "$pid" 2>/dev/null
deadline=$(( SECONDS + wait_s ))
while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
alive "$pid" || exit 0
kill -KILL "$pid" 2>/dev/null
sleep 0.5
! alive "$pid"

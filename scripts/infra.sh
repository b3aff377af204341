#!/usr/bin/env bash
# Bring up RabbitMQ, PostgreSQL and Redis at the addresses of AMQP_URL, DATABASE_URL and
# REDIS_URL. A service that already answers is left alone. The ones that are down are started
# with `docker compose` when a Docker engine answers, otherwise from the local installation
# (local addresses only). Prints one line per service; exits 1 if any is still down.
set -euo pipefail

cd "$(dirname "$0")/.."

AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ingest}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
WAIT_S=${INFRA_WAIT_S:-60}

# host and port of a URL (scheme://[user[:password]@]host[:port][/...]), with a default port.
url_host() {
  local rest=${1#*://}
  rest=${rest%%[/?#]*}
  rest=${rest##*@}
  if [[ $rest == \[* ]]; then          # [ipv6]:port
    local host=${rest%%]*}; echo "${host#[}"
  else
    echo "${rest%%:*}"
  fi
}
url_port() {
  local rest=${1#*://}
  rest=${rest%%[/?#]*}
  rest=${rest##*@}
  rest=${rest##*]}
  if [[ $rest == *:* && -n ${rest##*:} ]]; then echo "${rest##*:}"; else echo "$2"; fi
}

tcp_open() { timeout 2 bash -c ": </dev/tcp/$1/$2" 2>/dev/null; }

is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 || $1 == 0.0.0.0 ]]; }

pg_host=$(url_host "$DATABASE_URL");  pg_port=$(url_port "$DATABASE_URL" 5432)
mq_host=$(url_host "$AMQP_URL");      mq_port=$(url_port "$AMQP_URL" 5672)
rd_host=$(url_host "$REDIS_URL");     rd_port=$(url_port "$REDIS_URL" 6379)
pg_host=${pg_host:-127.0.0.1}; mq_host=${mq_host:-127.0.0.1}; rd_host=${rd_host:-127.0.0.1}

postgres_up() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h "$pg_host" -p "$pg_port" -t 2
  else
    tcp_open "$pg_host" "$pg_port"
  fi
}
rabbitmq_up() { tcp_open "$mq_host" "$mq_port"; }
redis_up() {
  if command -v redis-cli >/dev/null; then
    [[ $(timeout 3 redis-cli -h "$rd_host" -p "$rd_port" ping 2>/dev/null) == PONG ]]
  else
    tcp_open "$rd_host" "$rd_port"
  fi
}

wait_up() {  # wait_up SERVICE: poll SERVICE_up for at most WAIT_S seconds
  local deadline=$((SECONDS + WAIT_S))
  until "$1_up"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

docker_ok() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

# --- local starts (the commands of a developer machine without Docker) ----------------------
not_installed() {  # not_installed SERVICE ADDRESS PACKAGE
  echo "$1: down at $2 and not installed: apt-get install $3 (or install Docker and rerun" \
    "make infra)"
  return 1
}
start_failed() {  # start_failed SERVICE ADDRESS COMMAND
  echo "$1: down at $2 and '$3' failed"
  return 1
}
start_postgres() {
  command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]] ||
    not_installed postgres "$pg_host:$pg_port" postgresql-15 || return 1
  local version
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 ||
    start_failed postgres "$pg_host:$pg_port" "pg_ctlcluster $version main start"
}
start_redis() {
  command -v redis-server >/dev/null ||
    not_installed redis "$rd_host:$rd_port" redis-server || return 1
  redis-server --daemonize yes --bind 127.0.0.1 --port "$rd_port" --save "" \
    --appendonly no >/dev/null 2>&1 ||
    start_failed redis "$rd_host:$rd_port" "redis-server --port $rd_port"
}
start_rabbitmq() {
  command -v rabbitmq-server >/dev/null ||
    not_installed rabbitmq "$mq_host:$mq_port" rabbitmq-server || return 1
  if rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmqctl -q start_app >/dev/null        # the node runs but its app was stopped
  else
    rabbitmq-server -detached >/dev/null 2>&1 ||
      start_failed rabbitmq "$mq_host:$mq_port" "rabbitmq-server -detached" || return 1
  fi
  timeout "$WAIT_S" rabbitmqctl -q await_startup >/dev/null 2>&1 || true
}

declare -A addr=([postgres]="$pg_host:$pg_port" [rabbitmq]="$mq_host:$mq_port"
                 [redis]="$rd_host:$rd_port")
services=(rabbitmq postgres redis)
down=()
for svc in "${services[@]}"; do
  if "${svc}_up"; then echo "$svc: up (${addr[$svc]})"; else down+=("$svc"); fi
done
((${#down[@]})) || exit 0

status=0
if docker_ok; then
  echo "starting with docker compose: ${down[*]}"
  docker compose up -d --wait "${down[@]}"
  for svc in "${down[@]}"; do
    if wait_up "$svc"; then echo "$svc: up (${addr[$svc]}, docker)"
    else echo "$svc: started with docker but does not answer at ${addr[$svc]}"; status=1; fi
  done
  exit "$status"
fi

for svc in "${down[@]}"; do
  host=${addr[$svc]%:*}
  if ! is_local "$host"; then
    echo "$svc: down at ${addr[$svc]} (not a local address: start it there, or fix the URL)"
    status=1; continue
  fi
  "start_$svc" || { status=1; continue; }
  if wait_up "$svc"; then echo "$svc: up (${addr[$svc]}, started)"
  else echo "$svc: started but does not answer at ${addr[$svc]} after ${WAIT_S}s"; status=1; fi
done
exit "$status"

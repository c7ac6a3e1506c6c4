#!/usr/bin/env bash
# The baseline for issue #5's mail benchmark: Debian's Postfix relaying N
# messages of 2 KiB, received over SMTP and queued durably (Postfix fsyncs a
# queue file before it answers 250), then relayed to smtp-sink, all on
# loopback. Prints messages per second from the first connection until
# Postfix's queue is empty.
#
#   sudo benches/postfix-baseline.sh [MESSAGES] [SESSIONS] [new|reuse] [GENERATORS]
#
# (default 30000 200 new 1; `reuse` sends each session's messages over one
# connection, smtp-source -d, instead of one connection per message;
# GENERATORS smtp-source processes share the messages and sessions, as in
# the mail bench, which passes all four)
#
# It reconfigures the machine's Postfix (/etc/postfix) for the run: use it on
# a throwaway machine, as CI and the developers' machines are. smtp-sink
# discards what it receives, so Postfix stores each message once (its own
# queue); compare with a router chain that stores at every hop accordingly.
set -euo pipefail

messages=${1:-30000}
sessions=${2:-200}
reuse=()
if [ "${3:-}" = reuse ]; then reuse=(-d); fi
generators=${4:-1}
in_port=10025
sink_port=10026

if ! command -v smtp-source >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi

# Never stop a Postfix this script did not start.
if postfix status >/dev/null 2>&1; then
  echo "postfix-baseline: Postfix is already running; stop it first" >&2
  exit 1
fi
touch /etc/postfix/main.cf
# default_process_limit: an smtpd for every session (at least Postfix's
# default, 100), so Postfix is not held below the load it is offered.
postconf -e \
  "compatibility_level = 3.6" \
  "myhostname = bench.localdomain" \
  "mydestination =" \
  "inet_interfaces = loopback-only" \
  "inet_protocols = ipv4" \
  "mynetworks = 127.0.0.0/8" \
  "relayhost = [127.0.0.1]:${sink_port}" \
  "smtpd_relay_restrictions = permit_mynetworks, reject" \
  "default_process_limit = $(( sessions > 100 ? sessions : 100 ))" \
  "alias_maps =" \
  "alias_database =" \
  "local_recipient_maps =" \
  "maillog_file = /var/log/postfix-bench.log"
# Listen on a loopback port of our own instead of 25.
postconf -MX smtp/inet 2>/dev/null || true
postconf -M "127.0.0.1:${in_port}/inet=127.0.0.1:${in_port} inet n - n - - smtpd"
postfix check
postfix start >/dev/null 2>&1

smtp-sink -u postfix "127.0.0.1:${sink_port}" 256 &
sink=$!
trap 'kill $sink 2>/dev/null || true; postfix stop >/dev/null 2>&1 || true' EXIT
sleep 1

start=$(date +%s.%N)
pids=()
for ((g = 0; g < generators; g++)); do
  # This generator's share; the first ones take the rest.
  m=$(( messages / generators + (g < messages % generators ? 1 : 0) ))
  s=$(( sessions / generators + (g < sessions % generators ? 1 : 0) ))
  smtp-source "${reuse[@]}" -s "$(( s > 0 ? s : 1 ))" -m "$m" -l 2048 \
    -f bench@sender.example -t sink@receiver.example "127.0.0.1:${in_port}" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid"; done
accepted=$(date +%s.%N)
# Relayed: the queue is empty again.
until postqueue -j 2>/dev/null | grep -q . ; [ -z "$(postqueue -j 2>/dev/null)" ]; do sleep 0.05; done
done_at=$(date +%s.%N)

mode="one connection per message"
if [ ${#reuse[@]} -gt 0 ]; then mode="one connection per session"; fi
mode="$mode, $generators smtp-source process(es)"
awk -v n="$messages" -v m="$mode" -v s="$start" -v a="$accepted" -v d="$done_at" 'BEGIN {
  printf "postfix: %d messages of 2 KiB (%s), accepted in %.2f s, relayed in %.2f s: %.0f messages/s\n",
         n, m, a - s, d - s, n / (d - s)
}'

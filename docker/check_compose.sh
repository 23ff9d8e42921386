#!/usr/bin/env bash
# Checks docker/ offline, without a Docker engine (ctest: ComposeFilesAreValidOffline):
#   1. docker-compose validates docker-compose.yml, alone and with the GPU override;
#   2. each Dockerfile has a build and a runtime stage, and the runtime stage runs as a non-root
#      user with configs/ copied to /etc/gradients/;
#   3. every Dockerfile the services build from exists;
#   4. every daemon service runs with --config /etc/gradients/testnet/NAME, and every
#      /etc/gradients/PATH a service names exists as configs/PATH (skipped, with a message, for
#      configs/testnet/ while it does not exist);
#   5. the validator's health check asks the Admin address its config listens on.
# Exits 1 with the reason at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "check_compose: $*" >&2
  exit 1
}

command -v docker-compose >/dev/null ||
  fail "docker-compose not found: install Debian's docker-compose package (scripts/install-deps.sh does)"

compositions=("docker/docker-compose.yml" "docker/docker-compose.yml docker/docker-compose.gpu.yml")

# The resolved configuration of one composition (its files separated by spaces).
resolved_config() {
  local args=() file
  for file in $1; do args+=(-f "$file"); done
  docker-compose "${args[@]}" config "${@:2}"
}

for composition in "${compositions[@]}"; do
  resolved_config "$composition" -q || fail "docker-compose config rejects: $composition"
done

for dockerfile in docker/Dockerfile docker/Dockerfile.cuda; do
  [[ -f "$dockerfile" ]] || fail "$dockerfile: missing"
  stages=$(grep -c '^FROM ' "$dockerfile" || true)
  ((stages >= 2)) || fail "$dockerfile: $stages FROM line(s); expected a build stage and a runtime stage"
  runtime_stage=$(awk '/^FROM /{stage = ""} {stage = stage $0 "\n"} END {printf "%s", stage}' "$dockerfile")
  runtime_user=$(grep '^USER ' <<<"$runtime_stage" | tail -n 1 | awk '{print $2}' || true)
  [[ -n "$runtime_user" ]] || fail "$dockerfile: the runtime stage has no USER (it would run as root)"
  [[ "$runtime_user" != root && "${runtime_user%%:*}" != 0 ]] ||
    fail "$dockerfile: the runtime stage runs as root (USER $runtime_user)"
  grep -q '^COPY configs/ /etc/gradients/$' <<<"$runtime_stage" ||
    fail "$dockerfile: the runtime stage does not COPY configs/ /etc/gradients/"
done

# Prints "service<TAB>dockerfile<TAB>command<TAB>health check" for every service of a resolved
# configuration: the Dockerfile's path (joined to its context), the command's and the health check's
# words (lists or strings in the file) joined by spaces; "-" for what a service lacks.
service_table() {
  awk '
    function unquote(text) { gsub(/^["\047]|["\047]$/, "", text); return text }
    /^services:/ { in_services = 1; next }
    /^[^ ]/ { in_services = 0 }
    !in_services { next }
    /^  [^ ][^:]*:$/ { service = substr($1, 1, length($1) - 1); services[service] = 1; list = ""; next }
    /^    command:/ { list = "command"; rest = $0; sub(/^    command: */, "", rest); command[service] = rest; next }
    list == "command" && /^    - / { command[service] = command[service] " " unquote(substr($0, 7)); next }
    /^      test:/ { list = "test"; rest = $0; sub(/^      test: */, "", rest); health[service] = rest; next }
    list == "test" && /^      - / { health[service] = health[service] " " unquote(substr($0, 9)); next }
    /^    [^ -]/ || /^      [^ -]/ { list = "" }
    /^      context: / { context[service] = unquote($2); next }
    /^      dockerfile: / { dockerfile[service] = unquote($2); next }
    END {
      for (s in services) {
        file = "-"
        if (s in dockerfile) file = dockerfile[s] ~ /^\// ? dockerfile[s] : context[s] "/" dockerfile[s]
        else if (s in context) file = context[s] "/Dockerfile"
        c = command[s]; sub(/^ +/, "", c); if (c == "") c = "-"
        h = health[s]; sub(/^ +/, "", h); if (h == "") h = "-"
        print s "\t" file "\t" c "\t" h
      }
    }
  '
}

# The value of FLAG among the words of COMMAND (empty when absent).
flag_value() {
  local flag=$1 previous="" word
  for word in $2; do
    if [[ "$previous" == "$flag" ]]; then
      echo "$word"
      return
    fi
    previous=$word
  done
}

# The address `gradients health` reaches a validator's Admin service at, from its config: admin.listen
# (default 127.0.0.1:7401), a wildcard host on loopback.
admin_address() {
  python3 -c 'import json, sys
listen = json.load(open(sys.argv[1])).get("admin", {}).get("listen", "127.0.0.1:7401")
print(listen.replace("0.0.0.0:", "127.0.0.1:", 1))' "$1"
}

if [[ -d configs/testnet ]]; then
  check_testnet_configs=1
else
  check_testnet_configs=0
  echo "check_compose: configs/testnet/ does not exist yet: skipping the check that the services' configs exist"
fi

for composition in "${compositions[@]}"; do
  config=$(resolved_config "$composition")
  while IFS=$'\t' read -r service dockerfile command health; do
    if [[ "$dockerfile" != - && ! -f "$dockerfile" ]]; then
      fail "$composition: service $service builds from $dockerfile, which does not exist"
    fi
    for word in $command; do
      [[ "$word" == /etc/gradients/* ]] || continue
      [[ "$word" == /etc/gradients/testnet* ]] && ((!check_testnet_configs)) && continue
      [[ -e "configs/${word#/etc/gradients/}" ]] ||
        fail "$composition: service $service uses $word, but configs/${word#/etc/gradients/} does not exist"
    done
    case "$command" in
      gradients-validator* | gradients-miner*) ;;
      *) continue ;;
    esac
    config_path=$(flag_value --config "$command")
    [[ "$config_path" == /etc/gradients/testnet/* ]] ||
      fail "$composition: service $service runs \"$command\" without --config /etc/gradients/testnet/..."
    repo_config="configs/${config_path#/etc/gradients/}"
    if [[ "$command" == gradients-validator* && -f "$repo_config" ]]; then
      expected=$(admin_address "$repo_config") || fail "$repo_config: not readable as JSON"
      asked=$(flag_value --validator "$health")
      [[ "$asked" == "$expected" ]] ||
        fail "$composition: service $service's health check asks ${asked:-no --validator address}, but $repo_config listens on $expected"
    fi
  done < <(service_table <<<"$config")
done

echo "check_compose: ok (${#compositions[@]} compositions, 2 Dockerfiles)"

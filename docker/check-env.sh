#!/bin/sh
# The env-check service: refuse to start the stack with a secret left at .env.example's
# placeholder ("change-me") or empty. Every other service waits for it (through postgres).
set -eu

status=0
for name in POSTGRES_PASSWORD SUPERSET_SECRET_KEY SUPERSET_ADMIN_PASSWORD SUPERSET_READER_PASSWORD \
        TRIPS_PIPELINE_PASSWORD; do
    eval "value=\${$name:-}"
    case "$(printf '%s' "$value" | tr 'A-Z' 'a-z')" in
        "" | change-me | changeme | change_me)
            echo "env-check: set $name in .env (it is empty or still the .env.example placeholder)" >&2
            status=1
            ;;
    esac
done
[ "$status" -eq 0 ] && echo "env-check: secrets set"
exit "$status"

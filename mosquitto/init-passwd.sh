#!/bin/sh
# One-shot (compose service `mosquitto-init`): writes the broker's password file from the
# environment, so no password is ever stored in the repository. Users and what each may
# do: mosquitto/acl. The reader account is optional.
set -eu
dir=${1:-/mosquitto/secrets}
tmp="$dir/passwd.tmp"
rm -f "$tmp"
touch "$tmp"
add() {
    user=$1 var=$2 required=$3
    eval "pass=\${$var:-}"
    if [ -z "$pass" ]; then
        if [ "$required" = yes ]; then
            echo "mosquitto-init: $var is not set (see .env.example)" >&2
            exit 1
        fi
        return 0
    fi
    mosquitto_passwd -b "$tmp" "$user" "$pass"
}
add gateway EMUSA_MQTT_GATEWAY_PASSWORD yes
add ingestor EMUSA_MQTT_INGESTOR_PASSWORD yes
add analytics EMUSA_MQTT_ANALYTICS_PASSWORD yes
add reader EMUSA_MQTT_READER_PASSWORD no
chmod 0600 "$tmp"
if id mosquitto >/dev/null 2>&1; then
    chown mosquitto:mosquitto "$tmp"
fi
mv "$tmp" "$dir/passwd"
echo "mosquitto-init: password file written ($(cut -d: -f1 "$dir/passwd" | tr '\n' ' '))"

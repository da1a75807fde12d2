#!/bin/sh
# One-shot (compose service `mosquitto-init`), run at every start: writes the broker's
# password file, its ACL and the dynamic-security file from the environment, so no
# password is ever stored in the repository.
#   sh init-passwd.sh OUT_DIR [ACL_TEMPLATE]     (template default: acl beside this script)
# Accounts (what each may do: the template, mosquitto/acl):
#   gw-<site>-<gateway_id>   EMUSA_MQTT_GATEWAY_PASSWORD for EMUSA_SITE / EMUSA_GATEWAY_ID
#                            (the stack's own gateway), and one per entry of
#                            EMUSA_MQTT_GATEWAYS="site:gateway_id:password ..."
#   ingestor, ingestor-2 ... ingestor-N   EMUSA_MQTT_INGESTOR_PASSWORD, N = EMUSA_MQTT_INGESTORS
#   analytics                EMUSA_MQTT_ANALYTICS_PASSWORD
#   reader (optional)        EMUSA_MQTT_READER_PASSWORD, sites EMUSA_MQTT_READER_SITES
#   more readers (optional)  EMUSA_MQTT_READERS="user:password[:site,site] ..."
# Names are 1-64 of [A-Za-z0-9_.-] starting with a letter or digit; passwords hold no
# space or ':'. Nothing is written when a value is missing or wrong.
set -eu
dir=${1:-/mosquitto/secrets}
template=${2:-$(dirname "$0")/acl}
fail() { echo "mosquitto-init: $*" >&2; rm -f "$dir/passwd.tmp" "$dir/acl.tmp" "$dir/dynsec.json.tmp"; exit 1; }
[ -r "$template" ] || fail "ACL template $template not found"
rm -f "$dir/passwd.tmp" "$dir/acl.tmp" "$dir/dynsec.json.tmp"
touch "$dir/passwd.tmp"
grep -v '^#@' "$template" >"$dir/acl.tmp"
users=" "
shared_ok=""   # accounts that may subscribe to $share/... (the ingestors)

check_name() {  # what, value
    case $2 in
        "" | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) fail "$1 '$2' must be [A-Za-z0-9_.-], starting with a letter or digit" ;;
    esac
    [ ${#2} -le 64 ] || fail "$1 '$2' is longer than 64 characters"
}

add() {  # kind user password where site [site ...]   (site "+" = every site)
    kind=$1 user=$2 pass=$3 where=$4
    shift 4
    [ -n "$pass" ] || fail "$where: empty password for $user"
    case $pass in *[[:space:]:]*) fail "$where: the password of $user holds a space or ':'" ;; esac
    case $users in *" $user "*) fail "$where: account $user is defined twice" ;; esac
    users="$users$user "
    mosquitto_passwd -b "$dir/passwd.tmp" "$user" "$pass"
    gateway=${gateway:-}
    printf '\n' >>"$dir/acl.tmp"
    sed -n "s/^#@$kind //p" "$template" | while IFS= read -r line; do
        line=$(printf '%s\n' "$line" | sed -e "s/<user>/$user/g" -e "s/<gateway>/$gateway/g")
        case $line in
            *"<site>"*) for site in "$@"; do printf '%s\n' "$line" | sed "s/<site>/$site/g"; done ;;
            *) printf '%s\n' "$line" ;;
        esac
    done >>"$dir/acl.tmp"
}

sites_of() {  # what, comma-separated sites (empty = every site): prints the site list
    [ -n "$2" ] || { echo "+"; return 0; }
    for s in $(echo "$2" | tr ',' ' '); do check_name "$1" "$s"; echo "$s"; done
}

required() {  # variable name: its value, or fail
    eval "value=\${$1:-}"
    [ -n "$value" ] || fail "$1 is not set (see .env.example)"
    printf '%s' "$value"
}

# gateways: gw-<site>-<gateway_id>, one per gateway
if [ -n "${EMUSA_MQTT_GATEWAY_PASSWORD:-}" ]; then
    site=$(required EMUSA_SITE)
    gateway=$(required EMUSA_GATEWAY_ID)
    check_name EMUSA_SITE "$site"
    check_name EMUSA_GATEWAY_ID "$gateway"
    add gateway "gw-$site-$gateway" "$EMUSA_MQTT_GATEWAY_PASSWORD" EMUSA_MQTT_GATEWAY_PASSWORD "$site"
fi
for entry in ${EMUSA_MQTT_GATEWAYS:-}; do
    site=${entry%%:*} rest=${entry#*:}
    gateway=${rest%%:*} pass=${rest#*:}
    [ "$site" != "$entry" ] && [ "$gateway" != "$rest" ] ||
        fail "EMUSA_MQTT_GATEWAYS entry '${entry%%:*}:...' is not site:gateway_id:password"
    check_name "EMUSA_MQTT_GATEWAYS site" "$site"
    check_name "EMUSA_MQTT_GATEWAYS gateway id" "$gateway"
    add gateway "gw-$site-$gateway" "$pass" EMUSA_MQTT_GATEWAYS "$site"
done
gateway=""
[ "$users" != " " ] || fail "no gateway account: set EMUSA_MQTT_GATEWAY_PASSWORD or EMUSA_MQTT_GATEWAYS (see .env.example)"

# ingestors: ingestor, ingestor-2 ... ingestor-N (replicas in a shared group)
pass=$(required EMUSA_MQTT_INGESTOR_PASSWORD)
count=${EMUSA_MQTT_INGESTORS:-1}
case $count in "" | *[!0-9]* | 0*) fail "EMUSA_MQTT_INGESTORS '$count' must be a whole number >= 1" ;; esac
i=1
while [ "$i" -le "$count" ]; do
    user=ingestor
    [ "$i" -eq 1 ] || user="ingestor-$i"
    add ingestor "$user" "$pass" EMUSA_MQTT_INGESTOR_PASSWORD +
    shared_ok="$shared_ok $user"
    i=$((i + 1))
done

pass=$(required EMUSA_MQTT_ANALYTICS_PASSWORD)
mosquitto_passwd -b "$dir/passwd.tmp" analytics "$pass"
users="${users}analytics "

# readers: read only, every site or the sites listed
if [ -n "${EMUSA_MQTT_READER_PASSWORD:-}" ]; then
    sites=$(sites_of EMUSA_MQTT_READER_SITES "${EMUSA_MQTT_READER_SITES:-}")
    # shellcheck disable=SC2086  # one argument per site
    add reader reader "$EMUSA_MQTT_READER_PASSWORD" EMUSA_MQTT_READER_PASSWORD $sites
fi
for entry in ${EMUSA_MQTT_READERS:-}; do
    user=${entry%%:*} rest=${entry#*:}
    [ "$user" != "$entry" ] || fail "EMUSA_MQTT_READERS entry '$user' is not user:password[:site,site]"
    pass=${rest%%:*} sites=""
    [ "$pass" = "$rest" ] || sites=${rest#*:}
    check_name "EMUSA_MQTT_READERS user" "$user"
    sites=$(sites_of "EMUSA_MQTT_READERS site" "$sites")
    # shellcheck disable=SC2086
    add reader "$user" "$pass" EMUSA_MQTT_READERS $sites
done

# dynamic security, loaded before acl_file: it refuses `$share/...` subscriptions to every
# account but the ingestors and defers everything else (logins included) to the files.
{
    echo '{"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": false,'
    echo ' "subscribe": false, "unsubscribe": false},'
    echo ' "roles": [{"rolename": "no-shared-subscriptions", "acls": [{"acltype": "subscribePattern", "topic": "$share/#", "allow": false}]}],'
    echo ' "groups": [],'
    printf ' "clients": ['
    sep=""
    for user in $users; do
        case " $shared_ok " in *" $user "*) continue ;; esac
        printf '%s\n  {"username": "%s", "roles": [{"rolename": "no-shared-subscriptions"}]}' "$sep" "$user"
        sep=","
    done
    echo ']}'
} >"$dir/dynsec.json.tmp"

chmod 0600 "$dir/passwd.tmp"
chmod 0644 "$dir/acl.tmp" "$dir/dynsec.json.tmp"
if id mosquitto >/dev/null 2>&1; then
    chown mosquitto:mosquitto "$dir/passwd.tmp" "$dir/acl.tmp" "$dir/dynsec.json.tmp"
fi
mv "$dir/acl.tmp" "$dir/acl"
mv "$dir/dynsec.json.tmp" "$dir/dynsec.json"
mv "$dir/passwd.tmp" "$dir/passwd"
echo "mosquitto-init: accounts written:$users"

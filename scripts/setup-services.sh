#!/usr/bin/env bash
# Install what the test harness and the native runner need on a Debian machine without
# Docker: PostgreSQL 15 (+ server headers), Mosquitto, and the TimescaleDB extension.
#
# The TimescaleDB extension is built from Debian's `timescaledb` source package
# (Apache-licensed part only) when no binary is installed. The source is fetched through
# a private apt sources list, so the machine's own sources never point at another release.
# Idempotent: every step checks first and does nothing when the piece is already there.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
TSDB_VERSION="${TSDB_VERSION:-2.19.3+dfsg-1+deb13u1}"
TSDB_SUITE="${TSDB_SUITE:-trixie}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
WORK="${EMUSA_BUILD_DIR:-/var/tmp/emusa-build}"

log() { printf '[setup-services] %s\n' "$*" >&2; }
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "needs root to install $1 (run: sudo $0)"; exit 1
  fi
}

apt_updated=0
apt_install() {
  need_root "$*"
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL server binaries ------------------------------------------------------
if [ ! -x "${PG_BIN}/postgres" ] || [ ! -x "${PG_BIN}/initdb" ]; then
  log "installing postgresql-${PG_MAJOR}"
  apt_install "postgresql-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}"
fi

# --- Mosquitto -----------------------------------------------------------------------
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  log "installing mosquitto"
  apt_install mosquitto mosquitto-clients
fi

# --- tools the tests use: pdftoppm (report pages to PNG), openssl (STARTTLS test certs) ---
if ! command -v pdftoppm >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  log "installing poppler-utils and openssl"
  apt_install poppler-utils openssl
fi

# --- TimescaleDB extension -----------------------------------------------------------
share_dir() { "${PG_BIN}/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/${PG_MAJOR}"; }
if [ ! -x "${PG_BIN}/pg_config" ]; then
  apt_install "postgresql-server-dev-${PG_MAJOR}"
fi
if ls "$(share_dir)/extension/timescaledb.control" >/dev/null 2>&1; then
  log "timescaledb extension present: $(grep default_version "$(share_dir)/extension/timescaledb.control")"
else
  log "building timescaledb ${TSDB_VERSION} (Apache-only) from Debian source"
  apt_install build-essential cmake dpkg-dev libssl-dev "postgresql-server-dev-${PG_MAJOR}" ca-certificates
  mkdir -p "${WORK}/apt/lists/partial" "${WORK}/src"
  # Reuse the mirror this machine already uses for its own Debian sources.
  mirror="$(grep -hoE '^URIs:\s*\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')"
  if [ -z "${mirror}" ]; then
    mirror="$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+/debian/?\s' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $NF}')"
  fi
  if [ -z "${mirror}" ]; then
    log "cannot find a Debian mirror in the apt sources of this machine"; exit 1
  fi
  cat > "${WORK}/apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} ${TSDB_SUITE} main
SRC
  apt_opts=(-o "Dir::Etc::sourcelist=${WORK}/apt/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=${WORK}/apt/lists" -o "APT::Get::List-Cleanup=0")
  apt-get "${apt_opts[@]}" update -qq || log "apt update of the private source list reported errors (continuing)"
  (
    cd "${WORK}/src"
    rm -rf timescaledb-*/
    apt-get "${apt_opts[@]}" source --download-only "timescaledb=${TSDB_VERSION}"
    dpkg-source -x --no-check timescaledb_*.dsc tsdb >/dev/null
    cd tsdb
    ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DPG_CONFIG="${PG_BIN}/pg_config" >/dev/null
    make -C build -j"$(nproc)" >/dev/null
    make -C build install >/dev/null
  )
  rm -rf "${WORK}/src/tsdb"
  log "timescaledb installed into $(share_dir)/extension"
fi
log "services ready: postgres ${PG_MAJOR} ($(${PG_BIN}/postgres --version)), mosquitto, timescaledb"

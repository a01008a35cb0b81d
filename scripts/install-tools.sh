#!/usr/bin/env bash
# Installs the real Kafka clients used by the golden-frame tests (test/golden).
#   - kcat (librdkafka) from Debian's packages
#   - the Java kafka-clients jar and its runtime deps into tools/.cache/java
#   - kafkajs and @platformatic/kafka (root devDependencies, installed by pnpm install)
#   - moto_server (PyPI moto[server]) into tools/.cache/moto, the S3 server of the stream tests
# Idempotent: a second run only checks. Any failure is fatal (CI needs every tool).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[install-tools] %s\n' "$*"; }
die() { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || true
fi

# --- kcat -----------------------------------------------------------------
if command -v kcat >/dev/null 2>&1; then
  log "kcat present: $(kcat -V 2>&1 | head -1)"
else
  command -v apt-get >/dev/null 2>&1 || die "kcat missing and apt-get unavailable"
  log "installing kcat via apt-get"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kcat >/dev/null \
    || die "apt-get install kcat failed"
  command -v kcat >/dev/null 2>&1 || die "kcat still missing after install"
  log "kcat installed: $(kcat -V 2>&1 | head -1)"
fi

# --- Java kafka-clients ----------------------------------------------------
JAVA_DIR="$ROOT/tools/.cache/java"
POM="$ROOT/tools/java/pom.xml"
STAMP="$JAVA_DIR/.pom.sha256"
command -v java >/dev/null 2>&1 || die "java missing (need JDK 17)"
command -v javac >/dev/null 2>&1 || die "javac missing (need JDK 17)"
POM_SUM="$(sha256sum "$POM" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$POM_SUM" ] && ls "$JAVA_DIR"/kafka-clients-*.jar >/dev/null 2>&1; then
  log "java client jars present: $(basename "$(ls "$JAVA_DIR"/kafka-clients-*.jar)")"
else
  command -v mvn >/dev/null 2>&1 || die "mvn missing (need Maven to fetch kafka-clients)"
  log "resolving Java client jars with Maven"
  rm -rf "$JAVA_DIR"
  mkdir -p "$JAVA_DIR"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$JAVA_DIR" -DincludeScope=runtime \
    || die "mvn dependency:copy-dependencies failed"
  ls "$JAVA_DIR"/kafka-clients-*.jar >/dev/null 2>&1 || die "kafka-clients jar not found after mvn"
  echo "$POM_SUM" >"$STAMP"
  log "java client jars installed: $(ls "$JAVA_DIR" | tr '\n' ' ')"
fi

# --- moto_server (S3-compatible server for the object store tests) ----------
# A Python venv under tools/.cache/moto with a pinned moto[server]; the stamp records the pin,
# so a second run only checks that the binary answers.
MOTO_VERSION="5.2.5"
MOTO_DIR="$ROOT/tools/.cache/moto"
MOTO_BIN="$MOTO_DIR/bin/moto_server"
MOTO_STAMP="$MOTO_DIR/.moto-version"
if [ -x "$MOTO_BIN" ] && [ -f "$MOTO_STAMP" ] && [ "$(cat "$MOTO_STAMP")" = "$MOTO_VERSION" ]; then
  log "moto_server present: moto $MOTO_VERSION"
else
  command -v python3 >/dev/null 2>&1 || die "python3 missing (needed for moto_server)"
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || {
    command -v apt-get >/dev/null 2>&1 || die "python3 venv support missing and apt-get unavailable"
    log "installing python3-venv via apt-get"
    $SUDO apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
  }
  log "installing moto[server]==$MOTO_VERSION into $MOTO_DIR"
  rm -rf "$MOTO_DIR"
  python3 -m venv "$MOTO_DIR" || die "python3 -m venv $MOTO_DIR failed"
  "$MOTO_DIR/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
    || die "pip install moto[server]==$MOTO_VERSION failed"
  echo "$MOTO_VERSION" >"$MOTO_STAMP"
fi
"$MOTO_BIN" --help >/dev/null 2>&1 || die "moto_server --help failed ($MOTO_BIN)"

# --- Node clients (root devDependencies) -----------------------------------
check_node_pkg() {
  [ -f "$ROOT/node_modules/$1/package.json" ]
}
if ! check_node_pkg kafkajs || ! check_node_pkg @platformatic/kafka; then
  command -v pnpm >/dev/null 2>&1 || die "pnpm missing"
  log "installing node clients (pnpm install)"
  pnpm install --frozen-lockfile >/dev/null || die "pnpm install failed"
fi
check_node_pkg kafkajs || die "kafkajs not installed (root devDependency)"
check_node_pkg @platformatic/kafka || die "@platformatic/kafka not installed (root devDependency)"
log "node clients: kafkajs $(node -p "require('./node_modules/kafkajs/package.json').version"), @platformatic/kafka $(node -p "require('./node_modules/@platformatic/kafka/package.json').version")"

# --- Apache Kafka peer (bench/peer) -----------------------------------------
# The Apache Kafka broker (kafka_2.13) and its command-line tools (kafka-tools: ProducerPerformance,
# ConsumerPerformance, TopicCommand) with a log4j2 binding, from Maven Central into tools/.cache/kafka.
# bench/peer starts a single KRaft node from this classpath as the side-by-side benchmark peer.
KAFKA_DIR="$ROOT/tools/.cache/kafka"
KAFKA_POM="$ROOT/tools/kafka/pom.xml"
KAFKA_STAMP="$KAFKA_DIR/.pom.sha256"
KAFKA_POM_SUM="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
if [ -f "$KAFKA_STAMP" ] && [ "$(cat "$KAFKA_STAMP")" = "$KAFKA_POM_SUM" ] \
  && ls "$KAFKA_DIR"/kafka_2.13-*.jar "$KAFKA_DIR"/kafka-tools-*.jar >/dev/null 2>&1; then
  log "apache kafka peer jars present: $(basename "$(ls "$KAFKA_DIR"/kafka_2.13-*.jar)")"
else
  command -v mvn >/dev/null 2>&1 || die "mvn missing (need Maven to fetch the Apache Kafka peer)"
  log "resolving Apache Kafka peer jars with Maven"
  rm -rf "$KAFKA_DIR"
  mkdir -p "$KAFKA_DIR"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$KAFKA_DIR" -DincludeScope=runtime \
    || die "mvn dependency:copy-dependencies failed for tools/kafka/pom.xml"
  ls "$KAFKA_DIR"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar not found after mvn"
  ls "$KAFKA_DIR"/kafka-tools-*.jar >/dev/null 2>&1 || die "kafka-tools jar not found after mvn"
  echo "$KAFKA_POM_SUM" >"$KAFKA_STAMP"
  log "apache kafka peer jars installed: $(ls "$KAFKA_DIR" | wc -l) jars"
fi
java -cp "$KAFKA_DIR/*" kafka.Kafka --version >/dev/null 2>&1 || die "kafka.Kafka --version failed (classpath $KAFKA_DIR)"
# --- Python Kafka clients (test/clients) -------------------------------------
# confluent-kafka (its wheel bundles librdkafka) and kafka-python 2.x with the compression
# libraries it needs for snappy/lz4/zstd, pinned, in a venv under tools/.cache/pyclients.
PYCLIENTS_PINS="confluent-kafka==2.12.1 kafka-python==2.2.15 python-snappy==0.7.3 cramjam==2.14.0 lz4==4.4.5 zstandard==0.25.0"
PYCLIENTS_DIR="$ROOT/tools/.cache/pyclients"
PYCLIENTS_PY="$PYCLIENTS_DIR/bin/python"
PYCLIENTS_STAMP="$PYCLIENTS_DIR/.pins"
if [ -x "$PYCLIENTS_PY" ] && [ -f "$PYCLIENTS_STAMP" ] && [ "$(cat "$PYCLIENTS_STAMP")" = "$PYCLIENTS_PINS" ]; then
  log "python kafka clients present: $PYCLIENTS_PINS"
else
  command -v python3 >/dev/null 2>&1 || die "python3 missing (needed for the Python Kafka clients)"
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || {
    command -v apt-get >/dev/null 2>&1 || die "python3 venv support missing and apt-get unavailable"
    log "installing python3-venv via apt-get"
    $SUDO apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
  }
  log "installing python kafka clients into $PYCLIENTS_DIR: $PYCLIENTS_PINS"
  rm -rf "$PYCLIENTS_DIR"
  python3 -m venv "$PYCLIENTS_DIR" || die "python3 -m venv $PYCLIENTS_DIR failed"
  # shellcheck disable=SC2086
  "$PYCLIENTS_DIR/bin/pip" install -q --disable-pip-version-check $PYCLIENTS_PINS \
    || die "pip install $PYCLIENTS_PINS failed"
  echo "$PYCLIENTS_PINS" >"$PYCLIENTS_STAMP"
fi
"$PYCLIENTS_PY" -c 'import confluent_kafka, kafka, snappy, lz4, zstandard; from kafka.codec import has_snappy, has_lz4, has_zstd; assert has_snappy() and has_lz4() and has_zstd()' \
  || die "python kafka clients do not import ($PYCLIENTS_PY)"
log "python kafka clients: confluent-kafka $("$PYCLIENTS_PY" -c 'import confluent_kafka; print(confluent_kafka.version(), "librdkafka", confluent_kafka.libversion()[0])'), kafka-python $("$PYCLIENTS_PY" -c 'import kafka; print(kafka.__version__)')"
# --- franz-go group member (packages/broker/test/groups-clients/franz) -----------
# A Go module pinned to github.com/twmb/franz-go v1.22.2 (go.mod, go.sum committed): its
# dependencies are downloaded into the Go module cache from the module proxy and the member is
# built into tools/.cache/franz-member (groups-franz.test.ts rebuilds it, from the cache).
FRANZ_MODULE="$ROOT/packages/broker/test/groups-clients/franz"
FRANZ_DIR="$ROOT/tools/.cache/franz-member"
FRANZ_BIN="$FRANZ_DIR/franz-member"
FRANZ_STAMP="$FRANZ_DIR/.sources.sha256"
command -v go >/dev/null 2>&1 || die "go missing (need Go 1.26+ for the franz-go group member)"
FRANZ_SUM="$(cat "$FRANZ_MODULE/go.mod" "$FRANZ_MODULE/go.sum" "$FRANZ_MODULE/main.go" | sha256sum | cut -d' ' -f1)"
if [ -x "$FRANZ_BIN" ] && [ -f "$FRANZ_STAMP" ] && [ "$(cat "$FRANZ_STAMP")" = "$FRANZ_SUM" ]; then
  log "franz-go member present: $FRANZ_BIN"
else
  log "downloading the franz-go member's modules and building it into $FRANZ_DIR"
  mkdir -p "$FRANZ_DIR"
  GOFLAGS="-mod=readonly -buildvcs=false" go -C "$FRANZ_MODULE" mod download \
    || die "go mod download failed ($FRANZ_MODULE)"
  GOFLAGS="-mod=readonly -buildvcs=false" go -C "$FRANZ_MODULE" build -o "$FRANZ_BIN" . \
    || die "go build failed ($FRANZ_MODULE)"
  echo "$FRANZ_SUM" >"$FRANZ_STAMP"
fi
log "franz-go member: $(go version | cut -d' ' -f3), franz-go $(awk '/twmb\/franz-go /{print $NF}' "$FRANZ_MODULE/go.mod")"
log "all tools ready"

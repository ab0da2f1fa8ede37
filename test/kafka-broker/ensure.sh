#!/usr/bin/env bash
# Builds the Kafka test broker once into the project's cache (default .cache/kafka-broker/, override
# with BOOKWIRE_KAFKA_BROKER_DIR) and prints the binary's path. A second call is instant.
# Tests look for the binary there; .ci/run calls this before `npm test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BOOKWIRE_KAFKA_BROKER_DIR:-$root/.cache/kafka-broker}
mkdir -p "$out"
# Two builds at once (e.g. two terminals) would race on the same output: serialise them.
exec 9>"$out/.build.lock"
flock 9
if [ ! -x "$out/mockkafka" ]; then
  "$here/build.sh" "$out" >&2
fi
echo "$out/mockkafka"

#!/bin/sh
# Installs the Debian packages the tests use, when they are missing: openssl (independent
# certificate and CRL checks), faketime (clock-skew tests across processes), python3 (an
# independent implementation of the protocol's check values), python3-grpcio (the Python
# client recipe of docs/clients.md, run with /usr/bin/python3), python3-grpc-tools and
# grpc-proto (stubs generated from the standard health and reflection protos, for the
# off-the-shelf health client test/independent/grpc_health_probe.py), strace (the store's fsyncs,
# observed), zbar-tools (zbarimg, an independent QR decoder), librsvg2-bin (rsvg-convert,
# which rasterises the SVG QR code), systemd (systemd-analyze verify and security, run on
# contrib/systemd's units), python3-prometheus-client and python3-yaml (Prometheus's own
# parser of the daemon's /metrics; the alert rules read) and prometheus (for promtool, which
# lints the metrics and checks contrib/prometheus/alerts.yml; installed without its
# recommended exporters) and postgresql (initdb and pg_ctl, for the throw-away servers of
# test/postgres.ts that the PostgreSQL store's tests run against) and chromium (the real browser
# that test/console-browser.test.ts drives through playwright-core; a playwright browser
# download cannot work on the CI machines). Runs before
# `npm test` (the "pretest" script). Without root or apt-get it only says what is missing;
# the tests that need a tool then fail with a message naming it.
missing=""
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
command -v zbarimg >/dev/null 2>&1 || missing="$missing zbar-tools"
command -v rsvg-convert >/dev/null 2>&1 || missing="$missing librsvg2-bin"
[ -x /usr/bin/systemd-analyze ] || missing="$missing systemd"
/usr/bin/python3 -c "import grpc" >/dev/null 2>&1 || missing="$missing python3-grpcio"
/usr/bin/python3 -c "import grpc_tools.protoc" >/dev/null 2>&1 || missing="$missing python3-grpc-tools"
[ -e /usr/share/grpc-proto/grpc/health/v1/health.proto ] || missing="$missing grpc-proto"
/usr/bin/python3 -c "import prometheus_client, yaml" >/dev/null 2>&1 || missing="$missing python3-prometheus-client python3-yaml"
pg=""
for f in /usr/lib/postgresql/*/bin/initdb; do [ -x "$f" ] && pg=1; done
[ -n "$pg" ] || missing="$missing postgresql"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# installed on their own, without recommends: prometheus would bring its node exporter and IPMI tools
norecommends=""
command -v promtool >/dev/null 2>&1 || norecommends="prometheus"
found=""
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do [ -e "$f" ] && found=1; done
[ -n "$found" ] || missing="$missing faketime"
[ -z "$missing$norecommends" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "test tools: installing$missing $norecommends" >&2
  (apt-get update -qq \
    && { [ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } \
    && { [ -z "$norecommends" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $norecommends; }) >/dev/null 2>&1 \
    || echo "test tools: could not install$missing $norecommends; the tests that need them will fail" >&2
else
  echo "test tools: missing$missing $norecommends (install with: sudo apt-get install$missing $norecommends); the tests that need them will fail" >&2
fi
exit 0

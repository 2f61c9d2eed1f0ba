#!/bin/sh
# Creates the platter-secrets Secret (namespace kube-system) from the values that
# examples/multi-vrf.yaml references. jcnrc never writes the values itself.
# Run it from the folder that holds examples/multi-vrf.yaml. Idempotent (create --dry-run | apply).
set -eu
KUBECTL="${KUBECTL:-kubectl}"
: "${CRPD_ROOT_PASSWORD:?set CRPD_ROOT_PASSWORD to the root-password value}"

"$KUBECTL" -n kube-system create secret generic platter-secrets \
    --from-literal=root-password="${CRPD_ROOT_PASSWORD}" \
    --from-file=crpd-license=crpd-license.txt \
    --dry-run=client -o yaml | "$KUBECTL" apply -f -

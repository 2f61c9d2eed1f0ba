#!/bin/sh
# Creates the platter-secrets Secret (namespace kube-system) from the values that
# examples/fleets/tri-fleet.yaml references. jcnrc never writes the values itself (secrets.mode: reference).
# Run it from the folder that holds examples/fleets/tri-fleet.yaml. Idempotent (create --dry-run | apply).
# Values from environment variables go through a private temporary file, never through the
# command line, where other users of the machine could read them in the process list. Files are
# copied there too: kubectl splits --from-file at '=' and ',', which a file name may contain.
set -eu
KUBECTL="${KUBECTL:-kubectl}"
: "${CRPD_ROOT_PASSWORD:?set CRPD_ROOT_PASSWORD to the root-password value}"
if [ ! -r crpd-license.txt ]; then
    echo "create-secrets.sh: cannot read crpd-license.txt (the crpd-license value); run this from the folder of examples/fleets/tri-fleet.yaml" >&2
    exit 1
fi

umask 077
values=$(mktemp -d)
trap 'rm -rf "$values"' EXIT
printf '%s' "${CRPD_ROOT_PASSWORD}" > "$values/root-password"
cp -- crpd-license.txt "$values/crpd-license"

"$KUBECTL" -n kube-system create secret generic platter-secrets \
    --from-file=root-password="$values/root-password" \
    --from-file=crpd-license="$values/crpd-license" \
    --dry-run=client -o yaml | "$KUBECTL" apply -f -

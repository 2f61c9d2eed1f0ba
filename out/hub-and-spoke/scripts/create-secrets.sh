#!/bin/sh
# Creates the platter-secrets Secret (namespace kube-system) from the values that
# examples/hub-and-spoke.yaml references. jcnrc never writes the values itself (secrets.mode: reference).
# Run it from the folder that holds examples/hub-and-spoke.yaml. Idempotent (create --dry-run | apply).
# Values from environment variables go through a private temporary file, never through the
# command line, where other users of the machine could read them in the process list. Files are
# copied there too: kubectl splits --from-file at '=' and ',', which a file name may contain. As
# jcnrc itself does, a secret file is read only as a regular file reached without a symbolic link
# (the repository could plant one pointing at a file of the machine that runs this).
set -eu
KUBECTL="${KUBECTL:-kubectl}"
: "${CRPD_ROOT_PASSWORD:?set CRPD_ROOT_PASSWORD to the root-password value}"
: "${CRPD_LICENSE:?set CRPD_LICENSE to the crpd-license value}"

umask 077
values=$(mktemp -d)
trap 'rm -rf "$values"' EXIT
printf '%s' "${CRPD_ROOT_PASSWORD}" > "$values/root-password"
printf '%s' "${CRPD_LICENSE}" > "$values/crpd-license"

"$KUBECTL" -n kube-system create secret generic platter-secrets \
    --from-file=root-password="$values/root-password" \
    --from-file=crpd-license="$values/crpd-license" \
    --dry-run=client -o yaml | "$KUBECTL" apply -f -

#!/bin/sh
# Creates the jcnr-secrets Secret (namespace jcnr) from the values that
# examples/fleets/tri-fleet.yaml references. jcnrc never writes the values itself (secrets.mode: reference).
# Run it from the folder that holds examples/fleets/tri-fleet.yaml. Idempotent (create --dry-run | apply).
# Values from environment variables go through a private temporary file, never through the
# command line, where other users of the machine could read them in the process list. Files are
# copied there too: kubectl splits --from-file at '=' and ',', which a file name may contain. As
# jcnrc itself does, a secret file is read only as a regular file reached without a symbolic link
# (the repository could plant one pointing at a file of the machine that runs this).
set -eu
KUBECTL="${KUBECTL:-kubectl}"

refuse_links() {
    # $1 a secret file's path, relative to this folder; $2 the value it holds. Each component of the
    # path in turn (secrets, then secrets/licence.txt) must not be a symbolic link.
    rest=$1
    walked=
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        case $rest in
            */*) rest=${rest#*/} ;;
            *) rest= ;;
        esac
        walked=${walked:+$walked/}$part
        if [ -L "$walked" ]; then
            echo "create-secrets.sh: $walked is a symbolic link; the $2 value is read only from a regular file reached without links" >&2
            exit 1
        fi
    done
}

: "${CRPD_ROOT_PASSWORD:?set CRPD_ROOT_PASSWORD to the root-password value}"
refuse_links crpd-license.txt crpd-license
if [ ! -f crpd-license.txt ] || [ ! -r crpd-license.txt ]; then
    echo "create-secrets.sh: cannot read crpd-license.txt (the crpd-license value) as a regular file; run this from the folder of examples/fleets/tri-fleet.yaml" >&2
    exit 1
fi

umask 077
values=$(mktemp -d)
trap 'rm -rf "$values"' EXIT
printf '%s' "${CRPD_ROOT_PASSWORD}" > "$values/root-password"
cp -- crpd-license.txt "$values/crpd-license"

"$KUBECTL" -n jcnr create secret generic jcnr-secrets \
    --from-file=root-password="$values/root-password" \
    --from-file=crpd-license="$values/crpd-license" \
    --dry-run=client -o yaml | "$KUBECTL" apply -f -

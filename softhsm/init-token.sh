#!/bin/sh
# Creates a SoftHSM2 token in DIR with no global state, for tests and the demo.
#
#   softhsm/init-token.sh DIR [--no-rsa-x509] [--disable-mech CKM_A[,CKM_B...]]
#                             [--label LABEL] [--extra-keys] [--no-keys]
#
# Writes DIR/softhsm2.conf (from softhsm/softhsm2.conf.in), DIR/tokens/, a
# random user PIN in DIR/pin and an SO PIN in DIR/so-pin (both mode 0600),
# and generates on the token:
#   tfattest-rsa  id 01  RSA-3072
#   tfattest-ec   id 02  EC P-256
# With --extra-keys, also (for the error-path tests):
#   tfattest-alwaysauth id 04  EC P-256 with CKA_ALWAYS_AUTHENTICATE
#   tfattest-certkey    id 05  EC P-256 private key + certificate, no public key object
#   tfattest-dup        id 06 and id 07, two RSA-2048 keys sharing one label
#
# --no-rsa-x509 disables raw RSA (CKM_RSA_X_509) on the token's slot, as many
# production HSMs do; --disable-mech disables any list of mechanisms.
#
# Prints lines that a shell can eval (or a program can parse, NAME=VALUE with
# the value in single quotes):
#   export SOFTHSM2_CONF='DIR/softhsm2.conf'
#   TFATTEST_PKCS11_MODULE='/usr/lib/softhsm/libsofthsm2.so'
#   TFATTEST_TOKEN_LABEL='tfattest'
#   TFATTEST_PIN_FILE='DIR/pin'
#   TFATTEST_RSA_URI='pkcs11:token=tfattest;object=tfattest-rsa;id=%01;type=private?module-path=...&pin-source=file:DIR/pin'
#   TFATTEST_EC_URI='pkcs11:...'
#
# The PINs are passed to softhsm2-util and pkcs11-tool on their command
# lines, where other processes of the same user can see them for a moment:
# fine for test tokens, not for real ones.
set -eu

usage() {
	echo "usage: $0 DIR [--no-rsa-x509] [--disable-mech LIST] [--label LABEL] [--extra-keys] [--no-keys]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
dir=$1
shift
mechs=
label=tfattest
extra=0
keys=1
while [ $# -gt 0 ]; do
	case $1 in
	--no-rsa-x509) mechs=${mechs:+$mechs,}CKM_RSA_X_509 ;;
	--disable-mech)
		[ $# -ge 2 ] || usage
		mechs=${mechs:+$mechs,}$2
		shift
		;;
	--label)
		[ $# -ge 2 ] || usage
		label=$2
		shift
		;;
	--extra-keys) extra=1 ;;
	--no-keys) keys=0 ;;
	*) usage ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# The directory ends up unescaped in URIs and in eval'd shell lines.
case $dir in
*[!A-Za-z0-9/._-]*)
	echo "init-token.sh: $dir: use a directory path of letters, digits and /._- only" >&2
	exit 2
	;;
esac
case $label in
'' | *[!A-Za-z0-9._-]*)
	echo "init-token.sh: token label must be letters, digits and ._- only" >&2
	exit 2
	;;
esac

find_module() {
	if [ -n "${TFATTEST_SOFTHSM_MODULE:-}" ]; then
		echo "$TFATTEST_SOFTHSM_MODULE"
		return
	fi
	multiarch=$(gcc -print-multiarch 2>/dev/null || true)
	for m in /usr/lib/softhsm/libsofthsm2.so \
		${multiarch:+/usr/lib/$multiarch/softhsm/libsofthsm2.so} \
		/usr/lib64/pkcs11/libsofthsm2.so /usr/lib64/softhsm/libsofthsm2.so \
		/usr/local/lib/softhsm/libsofthsm2.so /opt/homebrew/lib/softhsm/libsofthsm2.so; do
		if [ -f "$m" ]; then
			echo "$m"
			return
		fi
	done
	echo "init-token.sh: libsofthsm2.so not found (install softhsm2, or set TFATTEST_SOFTHSM_MODULE)" >&2
	exit 2
}
module=$(find_module)

for tool in softhsm2-util pkcs11-tool od; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "init-token.sh: $tool not found (packages: softhsm2, opensc)" >&2
		exit 2
	}
done

if [ -n "$mechs" ]; then
	mechlist="-CKM_DUMMY,$mechs"
else
	mechlist=ALL
fi

rm -rf "$dir/tokens"
mkdir -p "$dir/tokens"
chmod 700 "$dir/tokens"
sed -e "s|@TOKENDIR@|$dir/tokens|" -e "s|@MECHANISMS@|$mechlist|" \
	"$here/softhsm2.conf.in" >"$dir/softhsm2.conf"
SOFTHSM2_CONF=$dir/softhsm2.conf
export SOFTHSM2_CONF

rand_hex() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}
old_umask=$(umask)
umask 077
pin=$(rand_hex 8)
so_pin=$(rand_hex 8)
printf '%s\n' "$pin" >"$dir/pin"
printf '%s\n' "$so_pin" >"$dir/so-pin"
umask "$old_umask"

log=$dir/init-token.log
: >"$log"
softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >>"$log" 2>&1 || {
	echo "init-token.sh: softhsm2-util --init-token failed; see $log" >&2
	exit 2
}

p11() {
	pkcs11-tool --module "$module" --token-label "$label" --login --pin "$pin" "$@" >>"$log" 2>&1 || {
		echo "init-token.sh: pkcs11-tool $* failed; see $log" >&2
		exit 2
	}
}

if [ "$keys" = 1 ]; then
	p11 --keypairgen --key-type rsa:3072 --label tfattest-rsa --id 01 --usage-sign
	p11 --keypairgen --key-type EC:prime256v1 --label tfattest-ec --id 02 --usage-sign
fi

if [ "$extra" = 1 ]; then
	command -v openssl >/dev/null 2>&1 || {
		echo "init-token.sh: openssl not found" >&2
		exit 2
	}
	p11 --keypairgen --key-type EC:prime256v1 --label tfattest-alwaysauth --id 04 --usage-sign --always-auth
	# A key that comes with a certificate and no public key object.
	work=$dir/certkey
	mkdir -p "$work"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=tfattest-certkey" -keyout "$work/key.pem" -out "$work/cert.pem" >>"$log" 2>&1
	openssl pkcs8 -topk8 -nocrypt -in "$work/key.pem" -outform DER -out "$work/key.der" >>"$log" 2>&1
	openssl x509 -in "$work/cert.pem" -outform DER -out "$work/cert.der" >>"$log" 2>&1
	p11 --write-object "$work/key.der" --type privkey --label tfattest-certkey --id 05 --usage-sign
	p11 --write-object "$work/cert.der" --type cert --label tfattest-certkey --id 05
	rm -f "$work/key.pem" "$work/key.der"
	p11 --keypairgen --key-type rsa:2048 --label tfattest-dup --id 06 --usage-sign
	p11 --keypairgen --key-type rsa:2048 --label tfattest-dup --id 07 --usage-sign
fi

uri() {
	printf "pkcs11:token=%s;object=%s;id=%%%s;type=private?module-path=%s&pin-source=file:%s" \
		"$label" "$1" "$2" "$module" "$dir/pin"
}

echo "export SOFTHSM2_CONF='$dir/softhsm2.conf'"
echo "TFATTEST_PKCS11_MODULE='$module'"
echo "TFATTEST_TOKEN_LABEL='$label'"
echo "TFATTEST_PIN_FILE='$dir/pin'"
if [ "$keys" = 1 ]; then
	echo "TFATTEST_RSA_URI='$(uri tfattest-rsa 01)'"
	echo "TFATTEST_EC_URI='$(uri tfattest-ec 02)'"
fi
if [ "$extra" = 1 ]; then
	echo "TFATTEST_ALWAYSAUTH_URI='$(uri tfattest-alwaysauth 04)'"
	echo "TFATTEST_CERTKEY_URI='$(uri tfattest-certkey 05)'"
fi

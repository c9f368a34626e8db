#!/bin/sh
# Creates a test Time-Stamping Authority in DIR with the openssl CLI: a root
# CA, a good TSA certificate, certificates that break one rule each, and an
# `openssl ts` configuration. For tests only: the keys are not protected.
#
#   ca.pem            test root CA (2010-2060)
#   tsa.pem/.key      TSA: extendedKeyUsage = critical,timeStamping (2010-2060)
#   tsa-noncrit.*     EKU timeStamping, not critical
#   tsa-noeku.*       no EKU at all
#   tsa-multieku.*    EKU critical, timeStamping and codeSigning
#   tsa-expired.*     good extensions, valid 2015-01-01 .. 2020-01-01 only
#   other-ca.pem      a second, unrelated root CA
#   tsa-other.*       a good TSA certificate issued by other-ca
#   tsa.cnf           openssl ts config: section tsa_sha256 (ESS v2, the
#                     default) and tsa_sha1 (ESS v1 signingCertificate,
#                     the CA certificate included in the token) and
#                     tsa_frac (genTime to the millisecond, ordering yes)
#
# Keys are EC P-256 so that the script runs in well under a second.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
D=$(cd "$1" && pwd)
cd "$D"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat > ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $D
database = \$dir/index-\$ENV::CA_NAME.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial-\$ENV::CA_NAME
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ root_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_noncrit_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_multieku_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping,codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_noeku_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
mkdir -p newcerts

# root NAME CN
root() {
	export CA_NAME=$1
	: > "index-$1.txt"
	echo 01 > "serial-$1"
	key "$1.key"
	openssl req -new -config ca.cnf -key "$1.key" -subj "/O=tfattest test/CN=$2" -out "$1.csr"
	openssl ca -batch -notext -config ca.cnf -selfsign -keyfile "$1.key" -in "$1.csr" \
		-startdate 20100101000000Z -enddate 20600101000000Z -extensions root_ext \
		-out "$1.pem" 2>/dev/null
}

# leaf ISSUER NAME CN EXT START END
leaf() {
	export CA_NAME=$1
	key "$2.key"
	openssl req -new -config ca.cnf -key "$2.key" -subj "/O=tfattest test/CN=$3" -out "$2.csr"
	openssl ca -batch -notext -config ca.cnf -cert "$1.pem" -keyfile "$1.key" -in "$2.csr" \
		-startdate "$5" -enddate "$6" -extensions "$4" -out "$2.pem" 2>/dev/null
}

root ca "tfattest test root CA"
root other-ca "tfattest other root CA"
leaf ca tsa "tfattest test TSA" tsa_ext 20100101000000Z 20600101000000Z
leaf ca tsa-noncrit "tfattest TSA, EKU not critical" tsa_noncrit_ext 20100101000000Z 20600101000000Z
leaf ca tsa-noeku "tfattest TSA, no EKU" tsa_noeku_ext 20100101000000Z 20600101000000Z
leaf ca tsa-multieku "tfattest TSA, EKU also codeSigning" tsa_multieku_ext 20100101000000Z 20600101000000Z
leaf ca tsa-expired "tfattest TSA, expired" tsa_ext 20150101000000Z 20200101000000Z
leaf other-ca tsa-other "tfattest TSA under another CA" tsa_ext 20100101000000Z 20600101000000Z
rm -f ./*.csr ./*.old

echo 01 > tsaserial
cat > tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa_sha256
[ tsa_sha256 ]
dir = $D
serial = \$dir/tsaserial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3.999
other_policies = 1.3.6.1.4.1.4146.2.3.998
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ tsa_sha1 ]
dir = $D
serial = \$dir/tsaserial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3.999
other_policies = 1.3.6.1.4.1.4146.2.3.998
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha1
certs = \$dir/ca.pem
[ tsa_frac ]
dir = $D
serial = \$dir/tsaserial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3.999
other_policies = 1.3.6.1.4.1.4146.2.3.998
digests = sha256
accuracy = secs:1, millisecs:500
clock_precision_digits = 3
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF

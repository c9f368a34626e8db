/* Library-private access to a signer's parsed public key. */
#ifndef TFA_SIGNER_INT_H
#define TFA_SIGNER_INT_H

#include <openssl/evp.h>

#include "tfattest/signer.h"

/* The signer's public key; owned by the signer. Parsing SPKI DER costs more
 * than a signature check in OpenSSL 3, so callers reuse this one. */
EVP_PKEY *tfa_signer_pkey(const tfa_signer *s);

#endif

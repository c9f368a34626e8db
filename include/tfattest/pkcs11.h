/*
 * PKCS#11 helpers beyond the pkcs11: signer itself.
 *
 * Only in builds with the pkcs11 backend (TFATTEST_WITH_PKCS11).
 */
#ifndef TFATTEST_PKCS11_H
#define TFATTEST_PKCS11_H

#include "buffer.h"
#include "common.h"
#include "error.h"

/*
 * Lists the initialized tokens of a PKCS#11 module and the keys on them, one
 * line each, appended to out:
 *
 *   token slot-id=N label="..." manufacturer="..." model="..." serial="..." uri=pkcs11:...
 *   key token="..." label="..." id=HEX class=private alg=RSA-3072 sign=yes uri=pkcs11:...
 *
 * Each uri= is a ready-made key URI with module-path; add pin-source= to use
 * it. URIs contain no spaces, so `uri=` is always the last field and can be
 * cut at the first space-free run. No PIN is ever written.
 *
 * module_path: absolute path of the module (NULL: $TFATTEST_PKCS11_MODULE).
 * token: only this token label (NULL: all tokens).
 * pin: the user PIN, or NULL. Without one, private keys are usually hidden
 *   and public keys and certificates are listed instead. A PIN is tried on
 *   one token only: with several tokens, `token` must name one, so that a
 *   wrong PIN cannot count against the retry limits of the others. The
 *   caller owns and wipes pin.
 *
 * Errors: TFA_EUSAGE (module cannot be loaded, token not found, wrong PIN,
 * with the CKR_* name), TFA_EBACKEND (the module failed).
 */
TFA_WUR tfa_err tfa_pkcs11_list(tfa_buf *out, const char *module_path, const char *token,
				const char *pin);

/*
 * Reads a PIN from a pin-source: "file:/abs/path", "file:///abs/path" or
 * "/abs/path", one line (a trailing LF or CRLF is dropped). The PIN is
 * copied into an allocation of its exact size and the read buffer is wiped.
 * Release *pin with tfa_pkcs11_pin_free(). TFA_EUSAGE when the file cannot
 * be read, is empty, holds more than one line or more than 256 bytes.
 */
TFA_WUR tfa_err tfa_pkcs11_pin_read(char **pin, const char *pin_source);

/* Wipes (OPENSSL_cleanse) and frees a PIN. Accepts NULL. */
void tfa_pkcs11_pin_free(char *pin);

#endif

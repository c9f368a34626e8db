/*
 * The artifact writer's rotation records (tfa_artifact_build() in
 * tfattest/capture.h writes deployment records). Private to the library:
 * src/record/chain.c makes the proof of possession and calls this.
 */
#ifndef TFATTEST_ARTIFACT_WRITE_H
#define TFATTEST_ARTIFACT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/capture.h"
#include "tfattest/error.h"
#include "tfattest/sigalg.h"
#include "tfattest/signer.h"

/* What a rotation record says of the key that takes over. */
typedef struct tfa_rotation_fields {
	const char *new_fpr; /* "sha256:..." of new_spki */
	tfa_sig_alg new_alg;
	const char *new_backend;
	const tfa_kv *new_prov; /* the new key's provenance: new_prov_len pairs, or none */
	size_t new_prov_len;
	const uint8_t *new_spki; /* DER SubjectPublicKeyInfo */
	size_t new_spki_len;
	const uint8_t *pop; /* the new key's signature over tfa_rotation_pop_bytes() */
	size_t pop_len;
} tfa_rotation_fields;

/*
 * Writes the canonical bytes of a rotation record (schema 2, event "rotate")
 * at head h to out: the head fields and signer as tfa_artifact_build() writes
 * them, and a rotation member with the new key and the old one (h->signer's).
 */
TFA_WUR tfa_err tfa_artifact_build_rotation(tfa_buf *out, const tfa_artifact_head *h,
					    const tfa_rotation_fields *r);

#endif

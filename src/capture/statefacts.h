/*
 * The identity of one Terraform state version: its lineage, serial, the
 * Terraform version that wrote it and the SHA-256 of its bytes, read in one
 * pass over the body. Nothing else of the state is looked at: no output,
 * resource or attribute value. Private to the library.
 */
#ifndef TFA_STATEFACTS_H
#define TFA_STATEFACTS_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

/* Longest lineage and terraform_version taken; Terraform writes a UUID and a semver. */
#define TFA_STATE_LINEAGE_MAX 256
#define TFA_STATE_TFVER_MAX   64
/* Largest state body read (the same cap as a captured state). */
#define TFA_STATE_BODY_MAX ((size_t)512 << 20)

typedef struct tfa_state_facts {
	char lineage[TFA_STATE_LINEAGE_MAX + 1];
	int64_t serial;				  /* 0 to 2^53 */
	char tf_version[TFA_STATE_TFVER_MAX + 1]; /* "" when absent */
	uint8_t sha256[TFA_SHA256_LEN];		  /* of the body's bytes */
	uint64_t size;				  /* bytes in the body */
} tfa_state_facts;

/*
 * The facts of a state body held in memory. TFA_EFORMAT naming `name` when it
 * is not JSON, not an object, or has no usable lineage (1 to 256 bytes, no
 * NUL) or serial (an integer 0 to 2^53); a terraform_version that is not a
 * short string is left out. sha256 and size are set whenever the call fails
 * with TFA_EFORMAT too, so that an unreadable body can still be named by its
 * hash.
 */
TFA_WUR tfa_err tfa_state_facts_parse(tfa_state_facts *out, const uint8_t *body, size_t len,
				      const char *name);

/*
 * Reads fd to its end once, hashing as it reads, then parses what it read
 * (tfa_state_facts_parse). TFA_EIO when the read fails, TFA_EFORMAT also when
 * the body is larger than TFA_STATE_BODY_MAX.
 */
TFA_WUR tfa_err tfa_state_facts_read_fd(tfa_state_facts *out, int fd, const char *name);

#endif

/*
 * libFuzzer target for the awskms:// URI parser. Besides memory errors it
 * checks that an accepted URI has a kind, a key id that is the URI's tail,
 * an https endpoint or none, and a region only for ARNs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../providers/awskms/kmsuri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_kmsuri u;
	size_t kl;

	if (tfa_kmsuri_parse(&u, (const char *)data, size) != TFA_OK) {
		if (u.kind != 0 || u.key_id[0] != '\0')
			abort();
		return 0;
	}
	kl = strlen(u.key_id);
	if (kl == 0 || kl > size || memcmp(data + size - kl, u.key_id, kl) != 0)
		abort();
	if (u.endpoint[0] != '\0' && strncmp(u.endpoint, "https://", 8) != 0)
		abort();
	switch (u.kind) {
	case TFA_KMS_KEY_ID:
	case TFA_KMS_ALIAS:
		if (u.region[0] != '\0' || u.account[0] != '\0')
			abort();
		break;
	case TFA_KMS_KEY_ARN:
	case TFA_KMS_ALIAS_ARN:
		if (u.region[0] == '\0' || strlen(u.account) != 12)
			abort();
		break;
	default: abort();
	}
	return 0;
}

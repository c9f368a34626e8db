#include <string.h>

#include "format/bundle_path.h"
#include "format/hex.h"

/* Twelve decimal digits, not all zero, then suffix, then the end. */
static bool seq_name(const char *p, const char *suffix)
{
	bool nonzero = false;

	for (int i = 0; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		nonzero |= p[i] != '0';
	}
	return nonzero && strcmp(p + 12, suffix) == 0;
}

static bool hex_pem(const char *p)
{
	return strnlen(p, 64) == 64 && tfa_is_lowerhex(p, 64) && strcmp(p + 64, ".pem") == 0;
}

bool tfa_bundle_path_allowed(const char *path)
{
	static const char *const top[] = {"manifest.json", "manifest.sig",    "public_key.pem",
					  "VERIFY.md",	   "checkpoint.ckpt", "exporter_key.pem"};

	if (path == NULL)
		return false;
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (strcmp(path, top[i]) == 0)
			return true;
	if (strncmp(path, "artifacts/", 10) == 0)
		return seq_name(path + 10, ".json") || seq_name(path + 10, ".sig");
	if (strncmp(path, "keys/", 5) == 0)
		return seq_name(path + 5, ".json") || seq_name(path + 5, ".sig") ||
		       hex_pem(path + 5);
	return false;
}

/*
 * The set of paths a bundle may hold (docs/FORMAT.md §5): one check, used by
 * the archive reader and the directory walk alike.
 */
#ifndef TFA_BUNDLE_PATH_H
#define TFA_BUNDLE_PATH_H

#include <stdbool.h>

/*
 * True when path is exactly one of: manifest.json, manifest.sig,
 * public_key.pem, VERIFY.md, checkpoint.ckpt, exporter_key.pem, artifacts/N.json,
 * artifacts/N.sig, keys/N.json, keys/N.sig (N twelve decimal digits, not
 * all zero) or keys/H.pem (H 64 lowercase hex digits). Nothing else: no
 * directory, no "./", no backslash, no other name.
 */
bool tfa_bundle_path_allowed(const char *path);

#endif

/*
 * VERIFY.md: how to verify the bundle with tfattest, and a recipe that does
 * it with openssl and a POSIX shell. The recipe's steps are the same in every
 * bundle; they live in verify_recipe.sh, embedded at build time, and the five
 * values they start with are written here.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "record/export_int.h"
#include "tfattest/sys/guard.h"

tfa_err tfa_export_write_readme(tfa_buf *out, const char *chain_id, uint64_t from, uint64_t to,
				const char *base_hash, const char *anchor, bool exporter)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(tfa_buf_printf(
	    out,
	    "# Verifying this bundle\n"
	    "\n"
	    "This bundle holds records %" PRIu64 " to %" PRIu64 " of the tfattest chain `%s`.\n"
	    "With tfattest, pinning the chain's anchor (first) key and, when you have one,\n"
	    "a checkpoint of the chain's head that you obtained out of band:\n"
	    "\n"
	    "    tfattest verify . --expect-key-fingerprint %s [--checkpoint FILE]\n"
	    "\n"
	    "Without it, with only openssl, sha256sum, grep, sed and a POSIX shell, run the\n"
	    "script below from this directory (it writes only to a temporary directory it\n"
	    "removes). Each step stops at the first failure. See the project's\n"
	    "docs/FORMAT.md for the full specification. The script is the same in every\n"
	    "bundle but for the five values it starts with: read it before you run it, as you\n"
	    "would any script that came with the evidence it checks.\n"
	    "\n"
	    "If the bundle came as one archive, `tfattest verify FILE.tar.gz` (or `.zip`) reads\n"
	    "it in place. To use the script, extract it into a new, empty directory without\n"
	    "restoring owners, and run the script there:\n"
	    "\n"
	    "    mkdir bundle && tar --no-same-owner --no-same-permissions -xzf FILE.tar.gz -C "
	    "bundle\n"
	    "    mkdir bundle && unzip -q FILE.zip -d bundle\n"
	    "\n"
	    "```sh\n"
	    "ANCHOR=%s\n"
	    "CHAIN=%s\n"
	    "FROM=%" PRIu64 "\n"
	    "TO=%" PRIu64 "\n"
	    "BASE=%s\n",
	    from, to, chain_id, anchor, anchor, chain_id, from, to, base_hash));
	TFA_GUARD(tfa_buf_append(out, tfa_export_recipe, tfa_export_recipe_len));
	TFA_GUARD(tfa_buf_printf(
	    out,
	    "```\n"
	    "\n"
	    "Also check that every artifact's `chain_id` is `%s` and that the `seq` values\n"
	    "run from %" PRIu64 " to %" PRIu64
	    " without a gap: the file names alone are not signed.\n"
	    "\n"
	    "What this proves: the artifacts are intact, were signed by the keys in force\n"
	    "from the anchor above through every rotation (each rotation signed by the key\n"
	    "it retires and proven by the key it brings in), and form one unbroken chain in\n"
	    "this order. It does not prove that no record was left out after record %" PRIu64 "\n"
	    "or before record %" PRIu64 " unless the range starts at record 1 (prev_hash is the\n"
	    "all-zero genesis value) and a checkpoint you hold from another source is reached.\n",
	    chain_id, from, to, to, from));
	if (exporter)
		TFA_GUARD(tfa_buf_printf(
		    out,
		    "\n"
		    "The manifest of this bundle is signed by its exporter's own key\n"
		    "(`exporter_key.pem`; `\"kind\":\"exporter-signed\"` in manifest.json), not by "
		    "the\n"
		    "chain's key: whoever exported it could read the chain but not sign for it. "
		    "That\n"
		    "signature shows who assembled the bundle, if you know whose key it is "
		    "(compare\n"
		    "its fingerprint, which the script prints, with the one the exporter gave "
		    "you),\n"
		    "and nothing more: anyone holding the bundle could drop records from either "
		    "end\n"
		    "and sign it again with a key of their own. Every record is still checked "
		    "against\n"
		    "the chain's keys, so none can be forged or altered; that no record is "
		    "missing\n"
		    "rests only on the range starting at record 1 and on a checkpoint of the head\n"
		    "that you obtained out of band (CKPT above, or `--checkpoint`).\n"));
out:
	return rc;
}

/* Export of a chain range as a self-contained, signed bundle directory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfattest/features.h"
#if TFATTEST_WITH_ARCHIVE
#include <zlib.h>

#include "verify/archive/bundle_archive.h"
#endif

#include "format/bundle_path.h"
#include "verify/crypto.h"
#include "sys/fsutil.h"
#include "format/pathsafe.h"
#include "format/timefmt.h"
#include "tfattest/bundle.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"

typedef struct exporter {
	int dirfd;
	int artfd;
	cJSON *files; /* the manifest's file list, kept in path order */
} exporter;

static tfa_err put_file(exporter *ex, int dirfd, const char *dirname, const char *name,
			const uint8_t *data, size_t len)
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	char hex[2 * TFA_SHA256_LEN + 1], path[128];
	cJSON *e = NULL;

	TFA_GUARD(tfa_fs_write_new(dirfd, name, data, len, 0444, false));
	tfa_sha256(d, data, len);
	tfa_hex_encode(hex, d, sizeof(d));
	snprintf(path, sizeof(path), "%s%s", dirname, name);
	e = cJSON_CreateObject();
	TFA_ENSURE(e && cJSON_AddStringToObject(e, "path", path) &&
			   cJSON_AddStringToObject(e, "sha256", hex) &&
			   cJSON_AddNumberToObject(e, "size", (double)len) &&
			   cJSON_AddItemToArray(ex->files, e),
		   TFA_EINTERNAL, "out of memory");
	e = NULL;
out:
	cJSON_Delete(e);
	return rc;
}

/* The recipe's steps; the variables it uses are set above it. */
static const char recipe[] =
	"set -e\n"
	"t=$(mktemp -d)\n"
	"trap 'rm -rf \"$t\"' EXIT\n"
	"# The first value of a string member in a canonical JSON file.\n"
	"field() { grep -o \"\\\"$1\\\":\\\"[^\\\"]*\\\"\" \"$2\" | head -n 1 | cut -d'\"' -f4; }\n"
	"seq_of() { grep -o '\"seq\":[0-9]*' \"$1\" | head -n 1 | cut -d: -f2; }\n"
	"# A key's PEM: keys/<hex>.pem when the chain has rotated, else public_key.pem.\n"
	"key_for() { if [ -f \"keys/${1#sha256:}.pem\" ]; then echo \"keys/${1#sha256:}.pem\"; else echo public_key.pem; fi; }\n"
	"opts_for() { [ \"$1\" = RSASSA_PSS_SHA_256 ] && echo \"-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32\" || true; }\n"
	"fpr_of() { echo \"sha256:$(openssl pkey -pubin -in \"$1\" -outform DER | sha256sum | cut -d' ' -f1)\"; }\n"
	"# An RSA signature is exactly as long as the key's modulus (openssl alone accepts a\n"
	"# shorter one): siglen_ok KEY ALGORITHM SIGNATURE.\n"
	"siglen_ok() {\n"
	"  case \"$2\" in RSASSA_*)\n"
	"    bits=$(openssl pkey -pubin -in \"$1\" -noout -text | sed -n 's/.*Public-Key: (\\([0-9]*\\) bit).*/\\1/p' | head -n 1)\n"
	"    [ $(($(wc -c < \"$3\"))) -eq $(((bits + 7) / 8)) ] || { echo \"$3 is not $(((bits + 7) / 8)) bytes long\"; exit 1; } ;;\n"
	"  esac\n"
	"}\n"
	"\n"
	"# 0. The anchor (the chain's first key). Compare ANCHOR with the fingerprint you\n"
	"#    were given out of band, then check that its key file holds it.\n"
	"[ \"$(fpr_of \"$(key_for \"$ANCHOR\")\")\" = \"$ANCHOR\" ] || { echo \"anchor key file mismatch\"; exit 1; }\n"
	"\n"
	"# 1. The manifest's signature, by the key in public_key.pem (step 4 shows that\n"
	"#    the anchor hands over to exactly that key).\n"
	"siglen_ok public_key.pem \"$(field algorithm manifest.json)\" manifest.sig\n"
	"openssl dgst -sha256 -verify public_key.pem $(opts_for \"$(field algorithm manifest.json)\") \\\n"
	"  -signature manifest.sig manifest.json\n"
	"\n"
	"# 2. Every file's SHA-256, and no file that the manifest does not list.\n"
	"sums=$(grep -o '\"path\":\"[^\"]*\",\"sha256\":\"[0-9a-f]*\"' manifest.json |\n"
	"  sed 's/\"path\":\"\\([^\"]*\\)\",\"sha256\":\"\\([0-9a-f]*\\)\"/\\2  \\1/')\n"
	"printf '%s\\n' \"$sums\" | sha256sum --quiet -c -\n"
	"listed=$(printf '%s\\n' \"$sums\" | cut -c67- | sort)\n"
	"found=$(find . -type f ! -name manifest.json ! -name manifest.sig | sed 's|^\\./||' | sort)\n"
	"[ \"$listed\" = \"$found\" ] || { echo \"files differ from the manifest's list\"; exit 1; }\n"
	"\n"
	"# 3. The hash chain: each artifact's prev_hash is the SHA-256 of the one before.\n"
	"prev=$BASE\n"
	"for f in artifacts/*.json; do\n"
	"  grep -q \"\\\"prev_hash\\\":\\\"$prev\\\"\" \"$f\" || { echo \"chain broken at $f\"; exit 1; }\n"
	"  prev=\"sha256:$(sha256sum < \"$f\" | cut -d' ' -f1)\"\n"
	"done\n"
	"grep -q \"\\\"head_hash\\\":\\\"$prev\\\"\" manifest.json || { echo \"head hash mismatch\"; exit 1; }\n"
	"# Rotation records under keys/ link to the records next to them: to each other,\n"
	"# and to the range's first and last record.\n"
	"ps=; ph=\n"
	"for n in $( (ls keys 2>/dev/null || true; ls artifacts) | grep '^[0-9]\\{12\\}\\.json$' | sort -u); do\n"
	"  f=artifacts/$n\n"
	"  [ -f \"$f\" ] || f=keys/$n\n"
	"  s=$(echo \"$n\" | sed 's/^0*//; s/\\.json$//')\n"
	"  if [ -n \"$ps\" ] && [ \"$s\" -eq $((ps + 1)) ]; then\n"
	"    grep -q \"\\\"prev_hash\\\":\\\"$ph\\\"\" \"$f\" || { echo \"$f does not link to seq $ps\"; exit 1; }\n"
	"  fi\n"
	"  ps=$s\n"
	"  ph=\"sha256:$(sha256sum < \"$f\" | cut -d' ' -f1)\"\n"
	"done\n"
	"\n"
	"# 4. Every signature, by the key in force: from the anchor, each rotation record\n"
	"#    (keys/, and in the range also artifacts/) is signed by the key in force and\n"
	"#    carries a proof of possession by the new key, which signs from the next seq.\n"
	"cur=$ANCHOR\n"
	"for n in $( (ls keys 2>/dev/null || true; ls artifacts) | grep '^[0-9]\\{12\\}\\.json$' | sort -u); do\n"
	"  f=artifacts/$n\n"
	"  [ -f \"$f\" ] || f=keys/$n\n"
	"  if [ -f \"artifacts/$n\" ] && [ -f \"keys/$n\" ]; then\n"
	"    cmp -s \"artifacts/$n\" \"keys/$n\" || { echo \"keys/$n differs from artifacts/$n\"; exit 1; }\n"
	"  fi\n"
	"  [ \"$(field key_fingerprint \"$f\")\" = \"$cur\" ] || { echo \"$f is not signed by the key in force, $cur\"; exit 1; }\n"
	"  siglen_ok \"$(key_for \"$cur\")\" \"$(field algorithm \"$f\")\" \"${f%.json}.sig\"\n"
	"  openssl dgst -sha256 -verify \"$(key_for \"$cur\")\" $(opts_for \"$(field algorithm \"$f\")\") \\\n"
	"    -signature \"${f%.json}.sig\" \"$f\" > /dev/null || { echo \"bad signature: $f\"; exit 1; }\n"
	"  if grep -q '\"type\":\"rotate\"' \"$f\"; then\n"
	"    new=$(field new_key_fingerprint \"$f\")\n"
	"    alg=$(field new_algorithm \"$f\")\n"
	"    printf '{\"chain_id\":\"%s\",\"new_algorithm\":\"%s\",\"new_key_fingerprint\":\"%s\",\"old_key_fingerprint\":\"%s\",\"prev_hash\":\"%s\",\"seq\":%s,\"type\":\"tfattest.rotation-pop\"}' \\\n"
	"      \"$(field chain_id \"$f\")\" \"$alg\" \"$new\" \"$cur\" \"$(field prev_hash \"$f\")\" \"$(seq_of \"$f\")\" > \"$t/pop.json\"\n"
	"    field pop_signature \"$f\" | openssl base64 -d -A > \"$t/pop.sig\"\n"
	"    [ \"$(fpr_of \"$(key_for \"$new\")\")\" = \"$new\" ] || { echo \"no key file for $new\"; exit 1; }\n"
	"    siglen_ok \"$(key_for \"$new\")\" \"$alg\" \"$t/pop.sig\"\n"
	"    openssl dgst -sha256 -verify \"$(key_for \"$new\")\" $(opts_for \"$alg\") -signature \"$t/pop.sig\" \\\n"
	"      \"$t/pop.json\" > /dev/null || { echo \"bad proof of possession: $f\"; exit 1; }\n"
	"    echo \"rotation at seq $(seq_of \"$f\"): $new replaces $cur\"\n"
	"    cur=$new\n"
	"  fi\n"
	"done\n"
	"[ \"$(fpr_of public_key.pem)\" = \"$cur\" ] || { echo \"public_key.pem is not the key in force at export\"; exit 1; }\n"
	"\n"
	"# 5. Checkpoints: set CKPT to a checkpoint file you obtained out of band (and\n"
	"#    TSA_CA to your TSA's CA certificate to check its timestamp). The bundle's own\n"
	"#    checkpoint.ckpt is checked the same way, but proves nothing by itself.\n"
	"for c in ${CKPT:-} checkpoint.ckpt; do\n"
	"  [ -f \"$c\" ] || continue\n"
	"  sed -n 2p \"$c\" | tr -d '\\n' > \"$t/cp.json\"\n"
	"  sed -n 's/^sig //p' \"$c\" | openssl base64 -d -A > \"$t/cp.sig\"\n"
	"  [ \"$(field chain_id \"$t/cp.json\")\" = \"$CHAIN\" ] || { echo \"$c is of another chain\"; exit 1; }\n"
	"  cs=$(seq_of \"$t/cp.json\")\n"
	"  kc=$ANCHOR   # the key in force after seq cs\n"
	"  for r in $(ls keys 2>/dev/null | grep '^[0-9]\\{12\\}\\.json$'); do\n"
	"    [ \"$(seq_of \"keys/$r\")\" -le \"$cs\" ] && kc=$(field new_key_fingerprint \"keys/$r\")\n"
	"  done\n"
	"  [ \"$(field key_fingerprint \"$t/cp.json\")\" = \"$kc\" ] || { echo \"$c is not signed by the key in force\"; exit 1; }\n"
	"  siglen_ok \"$(key_for \"$kc\")\" \"$(field algorithm \"$t/cp.json\")\" \"$t/cp.sig\"\n"
	"  openssl dgst -sha256 -verify \"$(key_for \"$kc\")\" $(opts_for \"$(field algorithm \"$t/cp.json\")\") \\\n"
	"    -signature \"$t/cp.sig\" \"$t/cp.json\" > /dev/null || { echo \"bad checkpoint signature: $c\"; exit 1; }\n"
	"  head=$(field head_hash \"$t/cp.json\")\n"
	"  a=artifacts/$(printf '%012d' \"$cs\").json\n"
	"  if [ -f \"$a\" ]; then\n"
	"    [ \"sha256:$(sha256sum < \"$a\" | cut -d' ' -f1)\" = \"$head\" ] || { echo \"$c: the chain was rewritten\"; exit 1; }\n"
	"  elif [ \"$cs\" -eq $((FROM - 1)) ]; then\n"
	"    [ \"$BASE\" = \"$head\" ] || { echo \"$c: the chain was rewritten\"; exit 1; }\n"
	"  else\n"
	"    echo \"the bundle (seq $FROM..$TO) does not reach $c (seq $cs)\"; exit 1\n"
	"  fi\n"
	"  if grep -q '^tsa ' \"$c\" && [ -n \"${TSA_CA:-}\" ]; then\n"
	"    sed -n 's/^tsa [0-9a-f]* //p' \"$c\" | openssl base64 -d -A > \"$t/cp.tsr\"\n"
	"    openssl ts -verify -digest \"$(sha256sum \"$t/cp.json\" | cut -c1-64)\" -in \"$t/cp.tsr\" -CAfile \"$TSA_CA\"\n"
	"  fi\n"
	"  echo \"checkpoint $c (seq $cs) reached\"\n"
	"done\n"
	"echo \"bundle verified\"\n";

static tfa_err write_readme(tfa_buf *out, const char *chain_id, uint64_t from, uint64_t to,
			    const char *base_hash, const char *anchor)
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
		"    mkdir bundle && tar --no-same-owner --no-same-permissions -xzf FILE.tar.gz -C bundle\n"
		"    mkdir bundle && unzip -q FILE.zip -d bundle\n"
		"\n"
		"```sh\n"
		"ANCHOR=%s\n"
		"CHAIN=%s\n"
		"FROM=%" PRIu64 "\n"
		"TO=%" PRIu64 "\n"
		"BASE=%s\n",
		from, to, chain_id, anchor, anchor, chain_id, from, to, base_hash));
	TFA_GUARD(tfa_buf_append(out, recipe, sizeof(recipe) - 1));
	TFA_GUARD(tfa_buf_printf(
		out,
		"```\n"
		"\n"
		"Also check that every artifact's `chain_id` is `%s` and that the `seq` values\n"
		"run from %" PRIu64 " to %" PRIu64 " without a gap: the file names alone are not signed.\n"
		"\n"
		"What this proves: the artifacts are intact, were signed by the keys in force\n"
		"from the anchor above through every rotation (each rotation signed by the key\n"
		"it retires and proven by the key it brings in), and form one unbroken chain in\n"
		"this order. It does not prove that no record was left out after record %" PRIu64 "\n"
		"or before record %" PRIu64 " unless the range starts at record 1 (prev_hash is the\n"
		"all-zero genesis value) and a checkpoint you hold from another source is reached.\n",
		chain_id, from, to, to, from));
out:
	return rc;
}

typedef struct key_entry {
	char name[80];
	tfa_buf data;
} key_entry;

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const key_entry *)a)->name, ((const key_entry *)b)->name);
}

/*
 * keys/: every rotation record up to the head (so the verifier can follow
 * the keys from the anchor to the one signing the manifest, whatever the
 * range), and each key as PEM for the manual recipe.
 */
static tfa_err put_keys(exporter *ex, tfa_store *st, uint64_t head)
{
	tfa_err rc = TFA_OK;
	uint64_t seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 0, ne = 0;
	key_entry *e = NULL;
	tfa_artifact *art = NULL;
	int kfd = -1;

	TFA_GUARD(tfa_chain_rotations(seqs, &n, st, head));
	if (n == 0)
		goto out;
	e = calloc(3 * n + 1, sizeof(*e));
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(e != NULL && art != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < 3 * n + 1; i++)
		tfa_buf_init(&e[i].data, TFA_ARTIFACT_MAX);
	for (size_t i = 0; i < n; i++) {
		key_entry *j = &e[ne++], *g = &e[ne++], *k = &e[ne++];
		char fpr[TFA_FPR_STRLEN];

		TFA_GUARD(tfa_store_get(st, seqs[i], &j->data, &g->data));
		TFA_GUARD(tfa_artifact_parse(art, j->data.data, j->data.len));
		TFA_ENSURE(art->is_rotation && art->seq == seqs[i], TFA_EVERIFY,
			   "record %" PRIu64 " in the store is not the rotation it was", seqs[i]);
		snprintf(j->name, sizeof(j->name), "%012" PRIu64 ".json", seqs[i]);
		snprintf(g->name, sizeof(g->name), "%012" PRIu64 ".sig", seqs[i]);
		tfa_spki_fingerprint(fpr, art->rot.spki, art->rot.spki_len);
		snprintf(k->name, sizeof(k->name), "%s.pem", fpr + 7);
		TFA_GUARD(tfa_spki_to_pem(&k->data, art->rot.spki, art->rot.spki_len));
		if (i == 0) {
			key_entry *a = &e[ne++];
			tfa_spki_fingerprint(fpr, art->rot.old_spki, art->rot.old_spki_len);
			snprintf(a->name, sizeof(a->name), "%s.pem", fpr + 7);
			TFA_GUARD(tfa_spki_to_pem(&a->data, art->rot.old_spki, art->rot.old_spki_len));
		}
	}
	qsort(e, ne, sizeof(*e), cmp_entry);
	TFA_ENSURE(mkdirat(ex->dirfd, "keys", 0755) == 0, TFA_EIO, "cannot create keys/: %s",
		   strerror(errno));
	kfd = openat(ex->dirfd, "keys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(kfd >= 0, TFA_EIO, "cannot open keys/: %s", strerror(errno));
	for (size_t i = 0; i < ne; i++)
		TFA_GUARD(put_file(ex, kfd, "keys/", e[i].name, e[i].data.data, e[i].data.len));
out:
	if (kfd >= 0)
		close(kfd);
	if (e)
		for (size_t i = 0; i < 3 * n + 1; i++)
			tfa_buf_free(&e[i].data);
	free(e);
	free(art);
	return rc;
}

typedef enum { ARC_NONE = 0, ARC_TGZ, ARC_ZIP } arc_kind;

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static arc_kind archive_kind(const char *path)
{
	if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz"))
		return ARC_TGZ;
	if (ends_with(path, ".zip"))
		return ARC_ZIP;
	return ARC_NONE;
}

#if TFATTEST_WITH_ARCHIVE
/*
 * The archive writer: exactly the subset the reader accepts
 * (docs/ARCHIVES.md), so that every extractor reads it the same way. The
 * bytes depend only on the files, the time given and zlib's deflate.
 */
#define ARC_BUF 65536

typedef struct arc_central {
	const char *name;
	uint32_t crc, csize, usize, off;
} arc_central;

typedef struct arc_writer {
	int fd;
	const char *tmp;
	arc_kind kind;
	uint8_t *buf; /* ARC_BUF bytes waiting to be written */
	size_t len;
	uint64_t off; /* bytes handed to arc_raw() so far */
	/* tar.gz: the deflate stream the tar goes through */
	z_stream z;
	bool zinit;
	uLong crc;
	uint8_t *zout;
	/* zip: the central directory to come */
	arc_central *cent;
	size_t ncent;
	uint16_t dos_time, dos_date;
} arc_writer;

static tfa_err arc_flush(arc_writer *w)
{
	size_t done = 0;

	while (done < w->len) {
		ssize_t r = write(w->fd, w->buf + done, w->len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return tfa_error_set(TFA_EIO, "cannot write %s: %s", w->tmp,
					     r < 0 ? strerror(errno) : "short write");
		done += (size_t)r;
	}
	w->len = 0;
	return TFA_OK;
}

/* Bytes of the archive file, as they are. */
static tfa_err arc_raw(arc_writer *w, const void *data, size_t n)
{
	tfa_err rc = TFA_OK;
	const uint8_t *p = data;

	w->off += n;
	while (n > 0) {
		size_t k = ARC_BUF - w->len < n ? ARC_BUF - w->len : n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
		if (w->len == ARC_BUF)
			TFA_GUARD(arc_flush(w));
	}
out:
	return rc;
}

/* Bytes of the tar stream, through deflate (flush Z_FINISH at the end). */
static tfa_err arc_tar(arc_writer *w, const void *data, size_t n, int flush)
{
	tfa_err rc = TFA_OK;

	w->crc = crc32(w->crc, data, (uInt)n);
	w->z.next_in = (Bytef *)(uintptr_t)data;
	w->z.avail_in = (uInt)n;
	for (;;) {
		int r;

		w->z.next_out = w->zout;
		w->z.avail_out = ARC_BUF;
		r = deflate(&w->z, flush);
		TFA_ENSURE(r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR, TFA_EINTERNAL,
			   "deflate failed (%d)", r);
		TFA_GUARD(arc_raw(w, w->zout, ARC_BUF - w->z.avail_out));
		if (flush == Z_FINISH ? r == Z_STREAM_END : w->z.avail_out != 0)
			break;
	}
out:
	return rc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A ustar numeric field: zero-padded octal digits and a NUL. */
static void put_octal(uint8_t *p, size_t n, uint64_t v)
{
	p[n - 1] = '\0';
	for (size_t i = n - 1; i-- > 0; v >>= 3)
		p[i] = (uint8_t)('0' + (v & 7));
}

/* One POSIX ustar header of a regular file: mode 0444, owner root. */
static tfa_err arc_tar_header(arc_writer *w, const char *path, uint64_t size, int64_t mtime)
{
	uint8_t h[512];
	unsigned sum = 0;
	size_t n = strlen(path);

	if (n > 99 || size >= ((uint64_t)1 << 33) || mtime < 0 ||
	    (uint64_t)mtime >= ((uint64_t)1 << 33))
		return tfa_error_set(TFA_EINTERNAL, "%s does not fit a ustar header", path);
	memset(h, 0, sizeof(h));
	memcpy(h, path, n);
	put_octal(h + 100, 8, 0444);
	put_octal(h + 108, 8, 0);
	put_octal(h + 116, 8, 0);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, (uint64_t)mtime);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6); /* with its NUL */
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	put_octal(h + 329, 8, 0);
	put_octal(h + 337, 8, 0);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	/* Six digits, NUL, space: as tar has always written the checksum. */
	put_octal(h + 148, 7, sum);
	h[155] = ' ';
	return arc_tar(w, h, sizeof(h), Z_NO_FLUSH);
}

/* One file: a tar header, data and zero padding; or a zip local header and deflated data. */
static tfa_err arc_file(arc_writer *w, const char *path, const uint8_t *data, size_t len,
			int64_t mtime)
{
	tfa_err rc = TFA_OK;
	static const uint8_t zeros[512];
	uint8_t *cdata = NULL, l[30];
	uLong bound;
	arc_central *c;

	TFA_ENSURE(tfa_bundle_path_allowed(path), TFA_EINTERNAL, "%s is not a bundle path", path);
	if (w->kind == ARC_TGZ) {
		TFA_GUARD(arc_tar_header(w, path, len, mtime));
		TFA_GUARD(arc_tar(w, data, len, Z_NO_FLUSH));
		TFA_GUARD(arc_tar(w, zeros, (512 - len % 512) % 512, Z_NO_FLUSH));
		goto out;
	}
	TFA_ENSURE(w->ncent < TFA_ARCHIVE_ZIP_MAX_ENTRIES, TFA_EUSAGE,
		   "a .zip holds at most %u files: export this range as .tar.gz",
		   TFA_ARCHIVE_ZIP_MAX_ENTRIES);
	/* One deflate state for every file, reset between them. */
	TFA_ENSURE(deflateReset(&w->z) == Z_OK, TFA_EINTERNAL, "deflate failed");
	bound = deflateBound(&w->z, (uLong)len);
	cdata = malloc(bound);
	TFA_ENSURE(cdata != NULL, TFA_EINTERNAL, "out of memory");
	w->z.next_in = (Bytef *)(uintptr_t)data;
	w->z.avail_in = (uInt)len;
	w->z.next_out = cdata;
	w->z.avail_out = (uInt)bound;
	TFA_ENSURE(deflate(&w->z, Z_FINISH) == Z_STREAM_END, TFA_EINTERNAL, "deflate failed");
	TFA_ENSURE(w->off + sizeof(l) + strlen(path) + w->z.total_out < 0xffffffffu, TFA_EUSAGE,
		   "a .zip without zip64 holds at most 4 GiB: export this range as .tar.gz");
	c = &w->cent[w->ncent++];
	c->name = path;
	c->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
	c->csize = (uint32_t)w->z.total_out;
	c->usize = (uint32_t)len;
	c->off = (uint32_t)w->off;
	put32(l, 0x04034b50u);
	put16(l + 4, 20); /* version needed: 2.0, deflate */
	put16(l + 6, 0);  /* flags: no encryption, no data descriptor */
	put16(l + 8, 8);  /* deflate */
	put16(l + 10, w->dos_time);
	put16(l + 12, w->dos_date);
	put32(l + 14, c->crc);
	put32(l + 18, c->csize);
	put32(l + 22, c->usize);
	put16(l + 26, (uint16_t)strlen(path));
	put16(l + 28, 0); /* no extra field */
	TFA_GUARD(arc_raw(w, l, sizeof(l)));
	TFA_GUARD(arc_raw(w, path, strlen(path)));
	TFA_GUARD(arc_raw(w, cdata, c->csize));
out:
	free(cdata);
	return rc;
}

/* Ends the archive: tar end blocks and the gzip trailer, or the zip central directory. */
static tfa_err arc_finish(arc_writer *w)
{
	tfa_err rc = TFA_OK;
	static const uint8_t zeros[1024];
	uint8_t t[46];
	uint64_t cdoff = w->off;

	if (w->kind == ARC_TGZ) {
		TFA_GUARD(arc_tar(w, zeros, sizeof(zeros), Z_FINISH));
		put32(t, (uint32_t)w->crc);
		put32(t + 4, (uint32_t)w->z.total_in);
		TFA_GUARD(arc_raw(w, t, 8));
		goto out;
	}
	for (size_t i = 0; i < w->ncent; i++) {
		const arc_central *c = &w->cent[i];
		put32(t, 0x02014b50u);
		put16(t + 4, 3 << 8 | 20); /* made by Unix, 2.0 */
		put16(t + 6, 20);
		put16(t + 8, 0);
		put16(t + 10, 8);
		put16(t + 12, w->dos_time);
		put16(t + 14, w->dos_date);
		put32(t + 16, c->crc);
		put32(t + 20, c->csize);
		put32(t + 24, c->usize);
		put16(t + 28, (uint16_t)strlen(c->name));
		put16(t + 30, 0);			/* extra field */
		put16(t + 32, 0);			/* comment */
		put16(t + 34, 0);			/* disk */
		put16(t + 36, 0);			/* internal attributes */
		put32(t + 38, (uint32_t)0100444 << 16); /* a regular file, 0444 */
		put32(t + 42, c->off);
		TFA_GUARD(arc_raw(w, t, 46));
		TFA_GUARD(arc_raw(w, c->name, strlen(c->name)));
	}
	TFA_ENSURE(w->off < 0xffffffffu, TFA_EUSAGE,
		   "a .zip without zip64 holds at most 4 GiB: export this range as .tar.gz");
	put32(t, 0x06054b50u);
	put16(t + 4, 0);
	put16(t + 6, 0);
	put16(t + 8, (uint16_t)w->ncent);
	put16(t + 10, (uint16_t)w->ncent);
	put32(t + 12, (uint32_t)(w->off - cdoff));
	put32(t + 16, (uint32_t)cdoff);
	put16(t + 20, 0); /* no comment */
	TFA_GUARD(arc_raw(w, t, 22));
out:
	return rc;
}

/*
 * The archive at tmp, read as `tfattest verify` reads it, holds exactly the
 * n files of the verified bundle directory, with their bytes.
 */
static tfa_err arc_check(const char *tmp, int dirfd, const cJSON *files, size_t n, tfa_buf *buf)
{
	tfa_err rc = TFA_OK;
	tfa_archive *a = NULL;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	const cJSON *f = NULL;

	TFA_ENSURE(fd >= 0, TFA_EIO, "cannot open %s: %s", tmp, strerror(errno));
	rc = tfa_archive_load_fd(&a, fd, tmp, NULL);
	if (rc != TFA_OK)
		TFA_BAIL(rc, "the exported archive does not read back: %s",
			 tfa_error_last()->message);
	TFA_ENSURE(a->n == n, TFA_EINTERNAL, "the exported archive holds %zu files, not %zu", a->n,
		   n);
	for (int i = -2; i < 0 || (f = i == 0 ? files->child : f->next) != NULL; i++) {
		const char *path =
		    i == -2   ? TFA_BUNDLE_MANIFEST
		    : i == -1 ? TFA_BUNDLE_MANIFEST_SIG
			      : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "path"));
		const tfa_archive_entry *e = tfa_archive_find(a, path);
		int ffd = -1;

		TFA_ENSURE(e != NULL, TFA_EINTERNAL, "the exported archive lacks %s",
			   path ? path : "?");
		tfa_buf_clear(buf);
		TFA_GUARD(tfa_path_open(&ffd, dirfd, path));
		rc = tfa_buf_read_fd(buf, ffd, path, TFA_MANIFEST_MAX_BYTES);
		close(ffd);
		TFA_GUARD(rc);
		TFA_ENSURE(e->size == buf->len &&
			       (buf->len == 0 || memcmp(e->data, buf->data, buf->len) == 0),
			   TFA_EINTERNAL, "the exported archive's %s differs from the bundle's",
			   path);
	}
out:
	tfa_archive_free(a);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The MS-DOS date and time of t (UTC); 1980-01-01 for anything earlier. */
static void dos_time(int64_t t, uint16_t *tm_out, uint16_t *date_out)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 315532800 || gmtime_r(&tt, &tm) == NULL || tm.tm_year > 207) {
		*tm_out = 0;
		*date_out = (uint16_t)(1 << 5 | 1);
		return;
	}
	*tm_out = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*date_out = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

/*
 * Writes the bundle in dir (verified) as an archive at dest: a temporary
 * file beside it, fsynced, read back through the verifier's archive reader,
 * then renamed into place unless dest exists by then.
 */
static tfa_err write_archive(const char *dir, const cJSON *files, const char *dest, arc_kind kind,
			     int64_t mtime)
{
	tfa_err rc = TFA_OK;
	arc_writer w;
	char *tmp = NULL;
	int dirfd = -1, fd = -1;
	size_t n = strlen(dest), nfiles = (size_t)cJSON_GetArraySize(files) + 2;
	const cJSON *f = NULL;
	tfa_buf buf;

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	w.kind = kind;
	tfa_buf_init(&buf, TFA_MANIFEST_MAX_BYTES + 1);
	{
		/* What the archive reader would refuse, refused before anything is written. */
		uint64_t total = 0;

		cJSON_ArrayForEach(f, files)
		{
			const cJSON *sz = cJSON_GetObjectItemCaseSensitive(f, "size");
			if (cJSON_IsNumber(sz) && sz->valuedouble > 0)
				total += (uint64_t)sz->valuedouble;
		}
		TFA_ENSURE(total <= TFA_ARCHIVE_MAX_TOTAL, TFA_EUSAGE,
			   "the bundle's files take %" PRIu64 " bytes, more than an archive may hold "
			   "(%" PRIu64 "): export a shorter range (--from, --to) or as a directory",
			   total, (uint64_t)TFA_ARCHIVE_MAX_TOTAL);
		f = NULL;
	}
	if (kind == ARC_ZIP)
		TFA_ENSURE(
		    nfiles <= TFA_ARCHIVE_ZIP_MAX_ENTRIES, TFA_EUSAGE,
		    "a .zip holds at most %u files and this bundle has %zu: export it as .tar.gz",
		    TFA_ARCHIVE_ZIP_MAX_ENTRIES, nfiles);
	w.buf = malloc(ARC_BUF);
	w.zout = malloc(ARC_BUF);
	w.cent = calloc(nfiles, sizeof(*w.cent));
	tmp = malloc(n + 16);
	TFA_ENSURE(w.buf && w.zout && w.cent && tmp, TFA_EINTERNAL, "out of memory");
	dos_time(mtime, &w.dos_time, &w.dos_date);
	/* Raw deflate at zlib's default level: the tar stream, or each zip entry. */
	TFA_ENSURE(deflateInit2(&w.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
				Z_DEFAULT_STRATEGY) == Z_OK,
		   TFA_EINTERNAL, "out of memory");
	w.zinit = true;
	if (kind == ARC_TGZ) {
		/* gzip: deflate, FLG 0 (no name, extra, comment or header CRC), MTIME 0, XFL 0, OS
		 * Unix. */
		static const uint8_t gz[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
		w.crc = crc32(0L, Z_NULL, 0);
		TFA_GUARD(arc_raw(&w, gz, sizeof(gz)));
	}
	memcpy(tmp, dest, n);
	memcpy(tmp + n, ".part-XXXXXX", 13);
	fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		tmp = NULL;
		TFA_BAIL(TFA_EIO, "cannot create a file beside %s: %s", dest, strerror(errno));
	}
	w.fd = fd;
	w.tmp = tmp;
	/* mkstemp makes it private; the archive is meant to be handed over. */
	TFA_ENSURE(fchmod(fd, 0644) == 0, TFA_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(dirfd >= 0, TFA_EIO, "cannot open %s: %s", dir, strerror(errno));

	for (int i = -2; i < 0 || (f = i == 0 ? files->child : f->next) != NULL; i++) {
		const char *path;
		int ffd = -1;

		if (i == -2) {
			path = TFA_BUNDLE_MANIFEST;
		} else if (i == -1) {
			path = TFA_BUNDLE_MANIFEST_SIG;
		} else {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
			TFA_ENSURE(cJSON_IsString(p), TFA_EINTERNAL,
				   "manifest entry without a path");
			path = p->valuestring;
		}
		tfa_buf_clear(&buf);
		TFA_GUARD(tfa_path_open(&ffd, dirfd, path));
		rc = tfa_buf_read_fd(&buf, ffd, path, TFA_MANIFEST_MAX_BYTES);
		close(ffd);
		TFA_GUARD(rc);
		TFA_GUARD(arc_file(&w, path, buf.data, buf.len, mtime));
	}
	TFA_GUARD(arc_finish(&w));
	TFA_GUARD(arc_flush(&w));
	TFA_ENSURE(fsync(fd) == 0, TFA_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
	TFA_ENSURE(close(fd) == 0, TFA_EIO, "cannot close %s: %s", tmp, strerror(errno));
	fd = -1;
	/* Read back through the verifier's reader: exactly the verified files, byte for byte. */
	TFA_GUARD(arc_check(tmp, dirfd, files, nfiles, &buf));
	TFA_GUARD(tfa_fs_rename_noreplace(tmp, dest));
	tfa_fs_sync_parent(dest);
	free(tmp);
	tmp = NULL;
out:
	if (w.zinit)
		deflateEnd(&w.z);
	free(w.buf);
	free(w.zout);
	free(w.cent);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	tfa_buf_free(&buf);
	return rc;
}
#endif

/* Narrows [from, to] to the records whose time lies in [since, until]. */
static tfa_err time_range(tfa_store *st, const tfa_export_opts *o, uint64_t *from, uint64_t *to)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig;
	tfa_artifact art;
	uint64_t lo = 0, hi = 0;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	for (uint64_t s = *from; s <= *to; s++) {
		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, s, &bytes, &sig));
		TFA_GUARD(tfa_artifact_parse(&art, bytes.data, bytes.len));
		if (o->has_since && art.time < o->since)
			continue;
		if (o->has_until && art.time > o->until)
			continue;
		if (lo == 0)
			lo = s;
		hi = s;
	}
	TFA_ENSURE(lo != 0, TFA_EUSAGE, "no record lies in the requested time range");
	*from = lo;
	*to = hi;
out:
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

tfa_err tfa_bundle_export(tfa_export_result *res, tfa_store *st, tfa_signer *signer,
			  const tfa_export_opts *o)
{
	tfa_err rc = TFA_OK;
	exporter ex = { -1, -1, NULL };
	tfa_chain_info info;
	tfa_buf bytes, sig, text, canon;
	char *tmpdir = NULL, *json = NULL;
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN], base_hash[TFA_FPR_STRLEN] = "";
	char prev[TFA_FPR_STRLEN], name[32], when[TFA_TIME_STRLEN];
	uint64_t head, from, to;
	uint8_t d[TFA_SHA256_LEN];
	size_t spki_len;
	const uint8_t *spki;
	tfa_sig_alg alg;
	cJSON *man = NULL;
	struct stat sst;
	tfa_verify_report rep;
	tfa_verify_opts vo;
	const char *dest;
	arc_kind kind = ARC_NONE;
	int64_t created;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&text, 0);
	tfa_buf_init(&canon, TFA_MANIFEST_MAX_BYTES);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(o);
	TFA_ENSURE(!(o->out_dir && o->archive), TFA_EUSAGE,
		   "--out and --archive are exclusive: give one of them");
	dest = o->archive ? o->archive : o->out_dir;
	TFA_ENSURE(dest && *dest, TFA_EUSAGE, "no output given (--out DIR or --archive FILE)");
	if (o->archive) {
		kind = archive_kind(o->archive);
		TFA_ENSURE(kind != ARC_NONE, TFA_EUSAGE,
			   "--archive FILE must end in .tar.gz, .tgz or .zip");
#if !TFATTEST_WITH_ARCHIVE
		TFA_BAIL(TFA_EUSAGE, "this build cannot write archives (built without archive support)");
#endif
	}
	TFA_ENSURE(lstat(dest, &sst) != 0 && errno == ENOENT, TFA_EUSAGE,
		   "%s already exists: choose a new output path", dest);
	alg = o->alg == TFA_ALG_NONE ? tfa_signer_default_alg(signer) : o->alg;
	TFA_GUARD(tfa_signer_check_alg(signer, alg));

	TFA_GUARD(tfa_chain_info_read(&info, st));
	TFA_GUARD(tfa_chain_head(st, &info, &head, head_hash, key_fpr));
	TFA_ENSURE(head > 0, TFA_EUSAGE, "chain %s has no records to export", info.chain_id);
	TFA_ENSURE(strcmp(key_fpr, tfa_signer_fingerprint(signer)) == 0, TFA_EVERIFY,
		   "key %s is not the current key of chain %s (%s): the manifest must be signed by it",
		   tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
	from = o->from ? o->from : 1;
	to = o->to ? o->to : head;
	TFA_ENSURE(from <= to && to <= head, TFA_EUSAGE,
		   "range %" PRIu64 "..%" PRIu64 " is not within the chain's records 1..%" PRIu64, from,
		   to, head);
	if (o->has_since || o->has_until)
		TFA_GUARD(time_range(st, o, &from, &to));

	TFA_GUARD(tfa_fs_mkdtemp_beside(&tmpdir, dest));
	ex.dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.dirfd >= 0, TFA_EIO, "cannot open %s: %s", tmpdir, strerror(errno));
	/* mkdtemp makes it private; the bundle is meant to be handed over. */
	TFA_ENSURE(fchmod(ex.dirfd, 0755) == 0, TFA_EIO, "cannot chmod %s: %s", tmpdir, strerror(errno));
	TFA_ENSURE(mkdirat(ex.dirfd, "artifacts", 0755) == 0, TFA_EIO, "cannot create artifacts/: %s",
		   strerror(errno));
	ex.artfd = openat(ex.dirfd, "artifacts", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.artfd >= 0, TFA_EIO, "cannot open artifacts/: %s", strerror(errno));
	ex.files = cJSON_CreateArray();
	TFA_ENSURE(ex.files != NULL, TFA_EINTERNAL, "out of memory");

	/* Paths in byte order: VERIFY.md, artifacts/..., public_key.pem. */
	spki = tfa_signer_spki(signer, &spki_len);
	for (uint64_t s = from; s <= to; s++) {
		tfa_artifact art;

		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, s, &bytes, &sig));
		rc = tfa_artifact_parse(&art, bytes.data, bytes.len);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %" PRIu64 " in the store is invalid: %s", s,
				 tfa_error_last()->message);
		TFA_ENSURE(art.seq == s, TFA_EVERIFY, "record %" PRIu64 " in the store claims seq %" PRIu64,
			   s, art.seq);
		tfa_hash_str(prev, art.prev_hash);
		if (s == from)
			memcpy(base_hash, prev, sizeof(prev));
		else
			TFA_ENSURE(strcmp(prev, head_hash) == 0, TFA_EVERIFY,
				   "record %" PRIu64 " in the store does not link to its predecessor", s);
		tfa_sha256(d, bytes.data, bytes.len);
		tfa_hash_str(head_hash, d);
		snprintf(name, sizeof(name), "%012" PRIu64 ".json", s);
		TFA_GUARD(put_file(&ex, ex.artfd, "artifacts/", name, bytes.data, bytes.len));
		snprintf(name, sizeof(name), "%012" PRIu64 ".sig", s);
		TFA_GUARD(put_file(&ex, ex.artfd, "artifacts/", name, sig.data, sig.len));
	}
	/* VERIFY.md sorts first: insert it at the front. */
	TFA_GUARD(write_readme(&text, info.chain_id, from, to, base_hash, info.anchor_fpr));
	{
		cJSON *tail = ex.files;
		ex.files = cJSON_CreateArray();
		TFA_ENSURE(ex.files != NULL, TFA_EINTERNAL, "out of memory");
		rc = put_file(&ex, ex.dirfd, "", TFA_BUNDLE_README, text.data, text.len);
		if (rc != TFA_OK) {
			cJSON_Delete(tail);
			goto out;
		}
		cJSON *item;
		while ((item = cJSON_DetachItemFromArray(tail, 0)) != NULL)
			cJSON_AddItemToArray(ex.files, item);
		cJSON_Delete(tail);
	}
	/* checkpoint.ckpt sorts between artifacts/ and keys/. */
	{
		uint64_t cseq = 0;
		tfa_buf_clear(&text);
		rc = tfa_store_latest_checkpoint(st, from, to, &cseq, &text);
		if (rc == TFA_OK)
			TFA_GUARD(put_file(&ex, ex.dirfd, "", "checkpoint.ckpt", text.data, text.len));
		else if (rc != TFA_ENOTFOUND)
			goto out;
		tfa_error_clear();
		rc = TFA_OK;
	}
	TFA_GUARD(put_keys(&ex, st, head));
	tfa_buf_clear(&text);
	TFA_GUARD(tfa_spki_to_pem(&text, spki, spki_len));
	TFA_GUARD(put_file(&ex, ex.dirfd, "", TFA_BUNDLE_PUBKEY, text.data, text.len));

	created = (int64_t)time(NULL);
	tfa_time_format(when, created);
	man = cJSON_CreateObject();
	TFA_ENSURE(man != NULL, TFA_EINTERNAL, "out of memory");
	{
		cJSON *sg = cJSON_CreateObject();
		TFA_ENSURE(sg && cJSON_AddStringToObject(sg, "key_fingerprint", tfa_signer_fingerprint(signer)) &&
				   cJSON_AddStringToObject(sg, "algorithm", tfa_sig_alg_name(alg)) &&
				   cJSON_AddItemToObject(man, "signer", sg),
			   TFA_EINTERNAL, "out of memory");
	}
	TFA_ENSURE(cJSON_AddStringToObject(man, "type", TFA_MANIFEST_TYPE) &&
			   cJSON_AddNumberToObject(man, "schema_version", TFA_MANIFEST_SCHEMA) &&
			   cJSON_AddStringToObject(man, "chain_id", info.chain_id) &&
			   cJSON_AddNumberToObject(man, "from_seq", (double)from) &&
			   cJSON_AddNumberToObject(man, "to_seq", (double)to) &&
			   cJSON_AddStringToObject(man, "base_hash", base_hash) &&
			   cJSON_AddStringToObject(man, "head_hash", head_hash) &&
			   cJSON_AddStringToObject(man, "created", when),
		   TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddItemToObject(man, "files", ex.files), TFA_EINTERNAL, "out of memory");
	if (res)
		res->files = (size_t)cJSON_GetArraySize(ex.files);
	ex.files = NULL;
	json = cJSON_PrintUnformatted(man);
	TFA_ENSURE(json != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)json, strlen(json)));
	TFA_GUARD(tfa_fs_write_new(ex.dirfd, TFA_BUNDLE_MANIFEST, canon.data, canon.len, 0444, false));
	tfa_sha256(d, canon.data, canon.len);
	tfa_buf_clear(&sig);
	TFA_GUARD(tfa_signer_sign(&sig, signer, alg, d));
	TFA_GUARD(tfa_fs_write_new(ex.dirfd, TFA_BUNDLE_MANIFEST_SIG, sig.data, sig.len, 0444, false));
	TFA_GUARD(tfa_fs_sync_tree(ex.dirfd));

	/* What we hand over must verify: check it before it gets its name. */
	memset(&vo, 0, sizeof(vo));
	vo.expect_fpr = info.anchor_fpr;
	rc = tfa_verify_bundle(&rep, tmpdir, &vo);
	if (rc != TFA_OK)
		TFA_BAIL(rc == TFA_EVERIFY ? TFA_EVERIFY : rc,
			 "the exported bundle does not verify: %s", rep.message);
	if (kind != ARC_NONE) {
#if TFATTEST_WITH_ARCHIVE
		/* The directory goes either way: the archive replaces it. */
		TFA_GUARD(write_archive(tmpdir, cJSON_GetObjectItemCaseSensitive(man, "files"), dest,
					kind, created));
#endif
	} else {
		TFA_GUARD(tfa_fs_rename_noreplace(tmpdir, o->out_dir));
		tfa_fs_sync_parent(o->out_dir);
		free(tmpdir);
		tmpdir = NULL;
	}
	if (res) {
		res->from = from;
		res->to = to;
	}
out:
	if (ex.artfd >= 0)
		close(ex.artfd);
	if (ex.dirfd >= 0)
		close(ex.dirfd);
	if (tmpdir) {
		tfa_fs_rmtree(tmpdir);
		free(tmpdir);
	}
	cJSON_Delete(ex.files);
	cJSON_Delete(man);
	cJSON_free(json);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&text);
	tfa_buf_free(&canon);
	return rc;
}

/* Verifier entry points private to the library, its tests and fuzz targets. */
#ifndef TFA_VERIFY_INT_H
#define TFA_VERIFY_INT_H

#include <stddef.h>

#include "tfattest/verify.h"

#if TFATTEST_WITH_ARCHIVE
#include "verify/archive/bundle_archive.h"

/*
 * tfa_verify_bundle() for a bundle archive held in memory, with the given
 * caps (NULL: the defaults). Same results, report and lines; the bundle is
 * named "(memory)".
 */
TFA_WUR tfa_err tfa_verify_archive_mem(tfa_verify_report *rep, const void *data, size_t len,
				       const tfa_verify_opts *opts, const tfa_archive_limits *lim);
#endif

#endif

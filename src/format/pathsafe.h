/* Bundle-relative paths that can be opened without leaving the bundle. */
#ifndef TFA_PATHSAFE_H
#define TFA_PATHSAFE_H

#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_PATH_MAX_LEN   200
#define TFA_PATH_MAX_DEPTH 4

/*
 * TFA_OK when path is 1..TFA_PATH_MAX_LEN bytes of [A-Za-z0-9._-] components
 * joined by single '/', at most TFA_PATH_MAX_DEPTH deep, with no component
 * that is empty or starts with '.' (so no ".", "..", or hidden names), and
 * no leading '/'. TFA_EVERIFY with the reason otherwise.
 */
TFA_WUR tfa_err tfa_path_check(const char *path, size_t len);

/*
 * Opens a checked path below rootfd for reading without following any
 * symlink at any level. TFA_EVERIFY if a component is a symlink or the
 * target is not a regular file; TFA_ENOTFOUND if absent.
 */
TFA_WUR tfa_err tfa_path_open(int *fd, int rootfd, const char *path);

#endif

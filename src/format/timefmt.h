/* UTC timestamps in the one form artifacts use: YYYY-MM-DDTHH:MM:SSZ. */
#ifndef TFA_TIMEFMT_H
#define TFA_TIMEFMT_H

#include <time.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_TIME_STRLEN 21 /* 20 characters + NUL */

/* Formats t (seconds since the epoch) as UTC. */
void tfa_time_format(char out[TFA_TIME_STRLEN], int64_t t);

#include "tfattest/artifact.h" /* tfa_time_parse */

#endif

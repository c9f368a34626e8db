#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 100

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tfa_cli_progress_init(tfa_cli_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO) == 1;
}

void tfa_cli_progress_cb(void *ud, const char *what, uint64_t done, uint64_t total)
{
	tfa_cli_progress *p = ud;
	char line[128];
	int64_t t;
	size_t len;
	int n;

	if (p == NULL || !p->on)
		return;
	t = now_ms();
	/* The first, then at most one every PROGRESS_EVERY_MS, and the last. */
	if (p->shown && done != total && t - p->last_ms < PROGRESS_EVERY_MS)
		return;
	n = snprintf(line, sizeof(line), "%s %llu/%llu records", what ? what : "done",
		     (unsigned long long)done, (unsigned long long)total);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	len = (size_t)n;
	/* A shorter line (a new phase) leaves no tail of the longer one. */
	fprintf(stderr, "\r%s%*s", line, (int)(p->width > len ? p->width - len : 0), "");
	fflush(stderr);
	if (len > p->width)
		p->width = len;
	p->shown = true;
	p->last_ms = t;
}

void tfa_cli_progress_end(tfa_cli_progress *p)
{
	if (p == NULL || !p->shown)
		return;
	fprintf(stderr, "\r%*s\r", (int)p->width, "");
	fflush(stderr);
	p->shown = false;
	p->width = 0;
}

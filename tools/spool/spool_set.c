/*
 * tools/spool/spool_set.c - opening several spools (spool_set.h).
 *
 * Owns: the duplicate check, by device and inode of each directory.
 * Workload: a handful of spools, each opened once per command.
 */
#include "spool_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "report.h"

/* The index of an earlier spool that is the same directory as dirs[i], or
 * i when none is. */
static size_t spool_set_same(const struct spool_dir *dirs, size_t i)
{
	struct stat a, b;
	if (fstat(dirs[i].fd, &a) != 0)
		return i;
	for (size_t j = 0; j < i; j++)
		if (fstat(dirs[j].fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return j;
	return i;
}

/* Open the directories paths[0..n). */
static int spool_set_open_dirs(struct spool_set *s, const char *const *paths, size_t n)
{
	for (; s->count < n; s->count++) {
		size_t i = s->count;
		int e = spool_dir_open(&s->dirs[i], paths[i]);
		if (e != 0)
			return report_spool_open(paths[i], e);
		size_t j = spool_set_same(s->dirs, i);
		if (j != i) {
			s->count++;
			report_error("--spool %s and --spool %s are the same directory", paths[j], paths[i]);
			return SPOOL_EXIT_USAGE;
		}
	}
	return SPOOL_EXIT_OK;
}

/* Say why url is refused, without the password it may hold. */
static void spool_set_bad_url(const char *url, const char *why)
{
	const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");
	int keep = scheme != NULL && (at == NULL || scheme < at) ? (int)(scheme + 3 - url) : 0;
	if (at != NULL)
		report_error("--remote %.*sUSER:PASS@%s: %s", keep, url, at + 1, why);
	else
		report_error("--remote %s: %s", url, why);
}

int spool_set_open(struct spool_set *s, const struct cmd_ctx *ctx)
{
	*s = (struct spool_set){ calloc(ctx->spool_count + 1, sizeof *s->dirs), 0,
				 calloc(ctx->remote_count + 1, sizeof *s->remotes), 0 };
	int rc = SPOOL_EXIT_OK;
	if (s->dirs == NULL || s->remotes == NULL) {
		report_error("out of memory");
		rc = SPOOL_EXIT_IO;
	}
	if (rc == SPOOL_EXIT_OK)
		rc = spool_set_open_dirs(s, ctx->spools, ctx->spool_count);
	for (; rc == SPOOL_EXIT_OK && s->remote_count < ctx->remote_count; s->remote_count++)
		if (remote_open(&s->remotes[s->remote_count], ctx->remotes[s->remote_count]) != 0) {
			spool_set_bad_url(ctx->remotes[s->remote_count], s->remotes[s->remote_count].why);
			rc = SPOOL_EXIT_USAGE;
		}
	if (rc != SPOOL_EXIT_OK)
		spool_set_close(s);
	return rc;
}

void spool_set_close(struct spool_set *s)
{
	for (size_t i = 0; i < s->count; i++)
		spool_dir_close(&s->dirs[i]);
	for (size_t i = 0; i < s->remote_count; i++)
		remote_close(&s->remotes[i]);
	free(s->dirs);
	free(s->remotes);
	*s = (struct spool_set){ NULL, 0, NULL, 0 };
}

const char *spool_set_name(const struct spool_set *s, size_t src)
{
	return src < s->count ? s->dirs[src].path : s->remotes[src - s->count].label;
}

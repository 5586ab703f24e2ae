/*
 * tools/spool/report.c - error and warning lines on stderr (report.h).
 *
 * Owns: the prefix and format of every diagnostic, so that a script can
 * grep them, and the advice printed for a spool that cannot be opened.
 * Workload: a handful of lines per run.
 */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vreport(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", REPORT_PROG, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void report_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
}

void report_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

int report_spool_open(const char *path, int err)
{
	if (err == -ENOENT)
		report_error("spool directory '%s' does not exist (use --spool DIR or set SMTPSINK_SPOOL)", path);
	else if (err == -ENOTDIR)
		report_error("'%s' is not a directory (use --spool DIR)", path);
	else
		report_error("cannot open spool directory '%s': %s", path, strerror(-err));
	return SPOOL_EXIT_IO;
}

/*
 * tools/spool/report.h - how smtpsink-spool talks on stderr, and its exit
 * codes.
 *
 * Owns: the one message format ("smtpsink-spool: what: why") for errors,
 * warnings and notices, and the exit codes every command returns.  Does
 * not decide what is an error: the commands do.
 */
#ifndef SMTPSINK_SPOOL_REPORT_H
#define SMTPSINK_SPOOL_REPORT_H

/* Exit codes (docs/SPOOL-TOOL.md, "Exit status"). */
enum spool_exit {
	SPOOL_EXIT_OK = 0,
	SPOOL_EXIT_NOT_FOUND = 1, /* unknown ID, wait timed out, verify found problems, damaged record */
	SPOOL_EXIT_USAGE = 2, /* bad option, filter or time syntax */
	SPOOL_EXIT_IO = 3, /* the spool cannot be read or an output cannot be written */
};

#define REPORT_PROG "smtpsink-spool"

void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A spool directory that cannot be opened (err: -errno): says what to do
 * and returns SPOOL_EXIT_IO. */
int report_spool_open(const char *path, int err);

#endif

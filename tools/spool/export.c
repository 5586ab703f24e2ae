/*
 * tools/spool/export.c - eml, mbox (mboxrd) and Maildir writers
 * (export.h).
 *
 * Owns: file creation (temporary name + rename for eml and Maildir), the
 * From_ line and >From quoting of mboxrd, and Maildir names.  Durability
 * is not its concern: an export can be run again; nothing is fsynced.
 * Workload: one file (or one mbox append) per message, written with
 * write(2) in one piece when the kernel takes it.
 */
#define _GNU_SOURCE
#include "export.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_dir.h"
#include "when.h"

#define NAME_BYTES 160u
#define US_PER_S 1000000ull
#define FROM_ADDR_MAX_BYTES 256u /* RFC 5321 4.5.3.1.3: a path is at most 256 octets */

static int make_dir(int at, const char *path)
{
	return mkdirat(at, path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* mkdir -p of path's directories; with last, path itself too. */
static int make_dirs(const char *path, bool last)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int e = make_dir(AT_FDCWD, buf);
		*p = '/';
		if (e != 0)
			return e;
	}
	return last ? make_dir(AT_FDCWD, buf) : 0;
}

/* The host part of Maildir names: '/' and ':' would break them. */
static void maildir_host(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0 || buf[0] == '\0')
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
}

int export_open(struct exporter *x, enum export_kind kind, const char *path)
{
	memset(x, 0, sizeof *x);
	x->kind = kind;
	x->path = path;
	x->dir_fd = -1;
	int e = make_dirs(path, kind != EXPORT_MBOX);
	if (e != 0)
		return e;
	if (kind == EXPORT_MBOX) {
		x->mbox = fopen(path, "wb");
		return x->mbox ? 0 : -errno;
	}
	x->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->dir_fd < 0)
		return -errno;
	if (kind == EXPORT_MAILDIR) {
		maildir_host(x->host, sizeof x->host);
		if ((e = make_dir(x->dir_fd, "tmp")) != 0 || (e = make_dir(x->dir_fd, "new")) != 0 ||
		    (e = make_dir(x->dir_fd, "cur")) != 0)
			return e;
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, uint64_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n > SSIZE_MAX ? SSIZE_MAX : (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (uint64_t)w;
	}
	return 0;
}

/* Write the body to dir/tmp_name, then rename it to dir/name. */
static int write_file(int dir_fd, const char *tmp_name, const char *name, const struct msg *m)
{
	int fd = openat(dir_fd, tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int e = write_all(fd, m->rec.body, m->rec.body_len);
	if (close(fd) != 0 && e == 0)
		e = -errno;
	if (e == 0 && renameat(dir_fd, tmp_name, dir_fd, name) != 0)
		e = -errno;
	if (e != 0)
		unlinkat(dir_fd, tmp_name, 0);
	return e;
}

bool export_name_ok(const struct msg *m)
{
	for (size_t i = 0; i < m->qid.len; i++)
		if (!isalnum(m->qid.ptr[i]))
			return false;
	return m->qid.len > 0;
}

static int write_eml(struct exporter *x, const struct msg *m)
{
	char name[NAME_BYTES], tmp[NAME_BYTES + 8];
	snprintf(name, sizeof name, "%.*s.eml", (int)m->qid.len, (const char *)m->qid.ptr);
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	return write_file(x->dir_fd, tmp, name, m);
}

static int write_maildir(struct exporter *x, const struct msg *m)
{
	char name[NAME_BYTES], tmp[NAME_BYTES + 8], dst[NAME_BYTES + 8];
	snprintf(name, sizeof name, "%llu.M%06lluQ%.*s.%s", (unsigned long long)(m->received_us / US_PER_S),
		 (unsigned long long)(m->received_us % US_PER_S), (int)m->qid.len, (const char *)m->qid.ptr, x->host);
	snprintf(tmp, sizeof tmp, "tmp/%s", name);
	snprintf(dst, sizeof dst, "new/%s", name);
	return write_file(x->dir_fd, tmp, dst, m);
}

/* A byte the From_ line can carry: printable ASCII, no blank (readers
 * split the line on blanks; Python's mailbox decodes it as ASCII). */
static bool from_line_byte(uint8_t b)
{
	return b > ' ' && b < 0x7f;
}

/* "From SENDER DATE\n", SENDER in ASCII: every other byte (blanks,
 * controls, the 8-bit bytes of an SMTPUTF8 address) becomes '_'.  When
 * that is not the sender exactly, the real one follows as the header
 * "X-Smtpsink-Envelope-From: <SENDER>" (CR and LF, which no SMTP path
 * holds, as '?'), ended like the message's own lines. */
static void mbox_from_line(FILE *f, const struct msg *m)
{
	char date[WHEN_TEXT_BYTES];
	const struct smtp_view s = m->mail_from;
	bool exact = s.len <= FROM_ADDR_MAX_BYTES;
	when_mbox(m->received_us, date, sizeof date);
	fputs("From ", f);
	if (s.len == 0)
		fputs("MAILER-DAEMON", f);
	for (size_t i = 0; i < s.len && i < FROM_ADDR_MAX_BYTES; i++) {
		exact = exact && from_line_byte(s.ptr[i]);
		fputc(from_line_byte(s.ptr[i]) ? s.ptr[i] : '_', f);
	}
	fprintf(f, " %s\n", date);
	if (exact)
		return;
	fputs(EXPORT_ENVELOPE_FROM_HEADER ": <", f);
	for (size_t i = 0; i < s.len; i++)
		fputc(s.ptr[i] == '\r' || s.ptr[i] == '\n' ? '?' : s.ptr[i], f);
	fprintf(f, ">%s", msg_line_end(m));
}

/* Does the line at p (n bytes left) match /^>*From /? */
static bool needs_quote(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] == '>')
		i++;
	return n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

static int write_mbox(struct exporter *x, const struct msg *m)
{
	const uint8_t *p = m->rec.body, *end = p + m->rec.body_len;
	mbox_from_line(x->mbox, m);
	while (p < end) {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *next = lf ? lf + 1 : end;
		if (needs_quote(p, (size_t)(end - p)))
			fputc('>', x->mbox);
		fwrite(p, 1, (size_t)(next - p), x->mbox);
		p = next;
	}
	if (m->rec.body_len > 0 && end[-1] != '\n')
		fputc('\n', x->mbox);
	fputc('\n', x->mbox);
	return ferror(x->mbox) ? -EIO : 0;
}

int export_write(struct exporter *x, const struct msg *m)
{
	int e;
	switch (x->kind) {
	case EXPORT_EML:
		e = write_eml(x, m);
		break;
	case EXPORT_MAILDIR:
		e = write_maildir(x, m);
		break;
	default:
		e = write_mbox(x, m);
		break;
	}
	if (e == 0) {
		x->count++;
		x->bytes += m->rec.body_len;
	}
	return e;
}

int export_close(struct exporter *x)
{
	int e = 0;
	if (x->mbox != NULL && fclose(x->mbox) != 0)
		e = -errno;
	x->mbox = NULL;
	if (x->dir_fd >= 0)
		close(x->dir_fd);
	x->dir_fd = -1;
	return e;
}

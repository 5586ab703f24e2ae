/*
 * tools/spool/marks_deleted.c - the deleted messages of the marks log
 * (marks_deleted.h).
 *
 * Owns: collecting MAIL_MARK_DELETE records; a queue ID set searched by
 * bsearch.  Every other mark type is ignored.
 */
#include "marks_deleted.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "mail_marks.h"

#define QID_BYTES 16u
#define DELETED_FIRST_CAP 256u

static int deleted_cmp(const void *a, const void *b)
{
	return memcmp(a, b, QID_BYTES);
}

static int deleted_add(void *arg, const struct mail_mark *m, uint64_t pos, size_t len)
{
	struct marks_deleted *d = arg;
	(void)pos;
	(void)len;
	if (m->type != MAIL_MARK_DELETE)
		return 0;
	if (m->qid[0] == '\0') {
		if (!d->any_all || m->at_us > d->all_through_us)
			d->all_through_us = m->at_us;
		d->any_all = true;
		return 0;
	}
	if (!grow_array((void **)&d->qids, &d->cap, d->count + 1, QID_BYTES, DELETED_FIRST_CAP))
		return -ENOMEM;
	memset(d->qids[d->count], 0, QID_BYTES);
	memcpy(d->qids[d->count], m->qid, strnlen(m->qid, QID_BYTES));
	d->count++;
	return 0;
}

int marks_deleted_load(struct marks_deleted *d, const char *spool_path)
{
	memset(d, 0, sizeof *d);
	struct mail_marks mk;
	int e = mail_marks_open_read(&mk, spool_path);
	if (e == -ENOENT)
		return 0;
	if (e != 0)
		return e;
	e = mail_marks_replay(&mk, 0, deleted_add, d);
	mail_marks_close(&mk);
	if (d->count > 1)
		qsort(d->qids, d->count, QID_BYTES, deleted_cmp);
	return e;
}

void marks_deleted_free(struct marks_deleted *d)
{
	free(d->qids);
	memset(d, 0, sizeof *d);
}

bool marks_deleted_has(const struct marks_deleted *d, const char qid[16], uint64_t received_us)
{
	if (d->any_all && received_us <= d->all_through_us)
		return true;
	return d->count > 0 && bsearch(qid, d->qids, d->count, QID_BYTES, deleted_cmp) != NULL;
}

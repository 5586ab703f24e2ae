/*
 * tools/spool/msg_source.c - one message by ID among several sources
 * (msg_source.h).
 *
 * Owns: the order of the search (spools in the order given, then nodes)
 * and the duplicate check: every source is asked, so an ID in two of them
 * is reported rather than one picked.  A spool costs one index search of
 * one shard; a node, one request (the message's bytes from the first node
 * that has it, its headers from the others: /api/v1/message/ID/headers is
 * small).
 */
#include "msg_source.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "queue_id.h"
#include "remote_list.h"
#include "report.h"
#include "spool_find.h"
#include "spool_set.h"

struct found {
	const char *cmd, *qid;
	size_t count; /* sources holding qid */
	size_t first; /* the first of them */
	struct seg_reader r; /* open when first is a spool */
	struct spool_index_entry e;
	struct remote_body raw; /* when first is a node */
};

/* Note that source src has the message; false if it is the second. */
static bool msg_source_note(struct found *f, const struct spool_set *set, size_t src)
{
	if (f->count++ == 0) {
		f->first = src;
		return true;
	}
	report_error("%s: %s is in %s and in %s: read one of them alone (--spool DIR or --remote URL once)", f->cmd,
		     f->qid, spool_set_name(set, f->first), spool_set_name(set, src));
	return false;
}

/* Ask every spool; SPOOL_EXIT_OK or the exit code. */
static int msg_source_spools(struct found *f, const struct spool_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		struct seg_reader r;
		struct spool_index_entry e;
		int rc = spool_find(&set->dirs[i], f->qid, &r, &e);
		if (rc < 0) {
			report_error("%s: %s: %s: %s", f->cmd, set->dirs[i].path, f->qid, strerror(-rc));
			return SPOOL_EXIT_IO;
		}
		if (rc != SPOOL_FIND_FOUND)
			continue;
		if (!msg_source_note(f, set, i)) {
			seg_reader_close(&r);
			return SPOOL_EXIT_NOT_FOUND;
		}
		f->r = r;
		f->e = e;
	}
	return SPOOL_EXIT_OK;
}

/* Whether node r has qid (its headers, not its bytes): 1, 0, or -1 after
 * saying why. */
static int msg_source_node_has(struct remote *r, const char *qid)
{
	char path[64];
	struct remote_body b;
	snprintf(path, sizeof path, "/api/v1/message/%s/headers", qid);
	long status = remote_get(r, path, &b);
	free(b.p);
	if (status == 200 || status == 404)
		return status == 200;
	if (status < 0)
		report_error("%s: %s", r->label, r->why);
	else
		report_error("%s: %s answered HTTP %ld", r->label, path, status);
	return -1;
}

/* Ask every node; SPOOL_EXIT_OK or the exit code. */
static int msg_source_nodes(struct found *f, struct spool_set *set)
{
	for (size_t i = 0; i < set->remote_count; i++) {
		struct remote *r = &set->remotes[i];
		int rc = f->count == 0 ? remote_raw(r, f->qid, &f->raw) : msg_source_node_has(r, f->qid);
		if (rc < 0)
			return SPOOL_EXIT_IO;
		bool has = f->count == 0 ? rc == 0 : rc == 1;
		if (has && !msg_source_note(f, set, set->count + i))
			return SPOOL_EXIT_NOT_FOUND;
	}
	return SPOOL_EXIT_OK;
}

/* Find f->qid and run the act on it. */
static int msg_source_run(struct found *f, struct spool_set *set, const struct msg_source_acts *acts)
{
	int rc = msg_source_spools(f, set);
	if (rc == SPOOL_EXIT_OK)
		rc = msg_source_nodes(f, set);
	if (rc == SPOOL_EXIT_OK && f->count == 0) {
		report_error("%s: no message %s in %s%s", f->cmd, f->qid, spool_set_name(set, 0),
			     spool_set_merged(set) ? " or the other sources" : "");
		rc = SPOOL_EXIT_NOT_FOUND;
	}
	if (rc != SPOOL_EXIT_OK) {
		if (f->count > 0 && f->first < set->count)
			seg_reader_close(&f->r);
		return rc;
	}
	if (f->first >= set->count)
		return acts->raw_act(acts->arg, f->qid, (const uint8_t *)f->raw.p, f->raw.len,
				     spool_set_name(set, f->first));
	struct msg m;
	rc = spool_find_decode(f->cmd, f->qid, &f->r, &f->e, &m); /* closes f->r unless OK */
	if (rc != SPOOL_EXIT_OK)
		return rc;
	rc = acts->act(acts->arg, &m);
	seg_reader_close(&f->r);
	return rc;
}

int msg_source_with_args(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv, const char **rest,
			 size_t nrest, const struct msg_source_acts *acts)
{
	const char *pos[1 + MSG_SOURCE_ARGS_MAX];
	size_t npos;
	if (nrest > MSG_SOURCE_ARGS_MAX)
		nrest = MSG_SOURCE_ARGS_MAX;
	int rc = cli_parse(c, argc, argv, pos, 1 + nrest, &npos);
	if (rc != 0 || npos != 1 + nrest) {
		if (rc == 0)
			report_error("%s: which message? (%s %s)", c->command, c->command, c->args ? c->args : "ID");
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	}
	for (size_t i = 0; i < nrest; i++)
		rest[i] = pos[1 + i];
	uint64_t us;
	uint32_t node, shard;
	if (!queue_id_parse(pos[0], strlen(pos[0]), &us, &node, &shard))
		return spool_find_bad_id(c->command, pos[0]);
	struct spool_set set;
	rc = spool_set_open(&set, ctx);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	struct found f = { .cmd = c->command, .qid = pos[0] };
	rc = msg_source_run(&f, &set, acts);
	free(f.raw.p);
	spool_set_close(&set);
	return rc;
}

int msg_source_with(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv, const struct msg_source_acts *acts)
{
	return msg_source_with_args(ctx, c, argc, argv, NULL, 0, acts);
}

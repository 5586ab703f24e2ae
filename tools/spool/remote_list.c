/*
 * tools/spool/remote_list.c - a node's message list and raw messages
 * through its HTTP API (remote_list.h).
 *
 * Owns: reading the NDJSON list (one summary a line, jansson per line, so
 * a malformed line names its place), the row's JSON and table forms, and
 * the status codes the API answers with (200, 404 for an unknown ID, 401
 * without the right credentials).
 */
#include "remote_list.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "json_out.h"
#include "report.h"
#include "text_out.h"
#include "when.h"

#define REMOTE_LIST_PATH_BYTES 128u

/* A string member of o, copied ("" when absent or not a string). */
static char *remote_list_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return strdup(s != NULL ? s : "");
}

/* The Address of an address object ("" when absent). */
static char *remote_list_addr(const json_t *a)
{
	return remote_list_str(json_is_object(a) ? a : NULL, "Address");
}

/* One summary into row; false if it is not one. */
static bool remote_list_row(const json_t *o, size_t src, struct remote_row *row)
{
	const char *qid = json_string_value(json_object_get(o, "ID"));
	const json_t *to = json_object_get(o, "To"), *size = json_object_get(o, "Size");
	if (qid == NULL || strlen(qid) != QUEUE_ID_LEN || !json_is_integer(size) || !json_is_array(to))
		return false;
	*row = (struct remote_row){ .src = src, .size = (uint64_t)json_integer_value(size) };
	memcpy(row->qid, qid, QUEUE_ID_LEN + 1);
	if (!queue_id_parse(qid, QUEUE_ID_LEN, &row->received_us, &row->node, &row->shard))
		return false;
	row->to_count = (uint32_t)json_array_size(to);
	row->subject = remote_list_str(o, "Subject");
	row->from = remote_list_addr(json_object_get(o, "From"));
	row->first_to = remote_list_addr(json_array_get(to, 0));
	row->to_json = json_dumps(to, JSON_COMPACT);
	return row->subject && row->from && row->first_to && row->to_json;
}

static void remote_row_free(struct remote_row *row)
{
	free(row->subject);
	free(row->from);
	free(row->first_to);
	free(row->to_json);
}

/* Every line of an NDJSON body into rows; -1 after saying why. */
static int remote_list_parse(const struct remote *r, size_t src, char *body, struct remote_rows *rows)
{
	size_t line = 0;
	for (char *p = body, *nl; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p) - 1;
		else
			*nl = '\0';
		line++;
		json_error_t err;
		json_t *o = json_loads(p, JSON_DISABLE_EOF_CHECK, &err);
		if (!grow_array((void **)&rows->v, &rows->cap, rows->n + 1, sizeof *rows->v, 256)) {
			json_decref(o);
			report_error("%s: out of memory", r->label);
			return -1;
		}
		struct remote_row *row = &rows->v[rows->n];
		bool ok = json_is_object(o) && remote_list_row(o, src, row);
		json_decref(o);
		if (!ok) {
			remote_row_free(row);
			report_error("%s: /api/v1/messages line %zu: not a message summary", r->label, line);
			return -1;
		}
		rows->n++;
	}
	return 0;
}

int remote_list(struct remote *r, size_t src, uint64_t limit, struct remote_rows *rows)
{
	char path[REMOTE_LIST_PATH_BYTES];
	if (limit != 0)
		snprintf(path, sizeof path, "/api/v1/messages?format=ndjson&limit=%llu", (unsigned long long)limit);
	else
		snprintf(path, sizeof path, "/api/v1/messages?format=ndjson");
	struct remote_body b;
	long status = remote_get(r, path, &b);
	if (status < 0) {
		report_error("%s: %s", r->label, r->why);
		return -1;
	}
	int rc = -1;
	if (status == 200)
		rc = remote_list_parse(r, src, b.p, rows);
	else
		report_error("%s: /api/v1/messages answered HTTP %ld%s", r->label, status,
			     status == 401 ? " (credentials: http://USER:PASS@HOST:PORT)" : "");
	free(b.p);
	return rc;
}

bool remote_row_newer(const struct remote_row *a, uint64_t received_us, const char *qid)
{
	if (a->received_us != received_us)
		return a->received_us > received_us;
	return strncmp(a->qid, qid, QUEUE_ID_LEN) > 0;
}

static int remote_row_cmp(const void *pa, const void *pb)
{
	const struct remote_row *a = pa, *b = pb;
	if (remote_row_newer(a, b->received_us, b->qid))
		return -1;
	return remote_row_newer(b, a->received_us, a->qid) ? 1 : 0;
}

void remote_rows_sort(struct remote_rows *rows)
{
	if (rows->n > 1)
		qsort(rows->v, rows->n, sizeof *rows->v, remote_row_cmp);
}

void remote_rows_free(struct remote_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		remote_row_free(&rows->v[i]);
	free(rows->v);
	*rows = (struct remote_rows){ NULL, 0, 0 };
}

static void remote_row_json(FILE *f, const struct remote_row *row, const char *source)
{
	char when[WHEN_TEXT_BYTES];
	when_iso(row->received_us, true, when, sizeof when);
	fprintf(f, "{\"qid\":\"%s\",\"received\":\"%s\",\"received_us\":%llu,\"shard\":%u,\"node\":%u", row->qid, when,
		(unsigned long long)row->received_us, row->shard, row->node);
	fputs(",\"client\":null,\"mail_from\":null,\"rcpts\":null,\"rcpt_count\":null,\"header_from\":", f);
	json_out_str(f, (const uint8_t *)row->from, strlen(row->from));
	fprintf(f, ",\"header_to\":%s,\"size\":%llu,\"subject\":", row->to_json, (unsigned long long)row->size);
	json_out_str(f, (const uint8_t *)row->subject, strlen(row->subject));
	fputs(",\"source\":", f);
	json_out_str(f, (const uint8_t *)source, strlen(source));
	fputs("}\n", f);
}

void remote_row_print(FILE *f, const struct remote_row *row, bool json, const char *source)
{
	if (json) {
		remote_row_json(f, row, source);
		return;
	}
	struct text_out_ls_row t = {
		.qid = smtp_view_make(row->qid, QUEUE_ID_LEN),
		.received_us = row->received_us,
		.client = "-",
		.sender = smtp_view_make(row->from, strlen(row->from)),
		.first_rcpt = smtp_view_make(row->first_to, strlen(row->first_to)),
		.rcpt_count = row->to_count,
		.size = row->size,
		.subject = row->subject,
		.subject_len = strlen(row->subject),
	};
	text_out_ls_cols(f, &t);
}

int remote_raw(struct remote *r, const char *qid, struct remote_body *out)
{
	char path[REMOTE_LIST_PATH_BYTES];
	snprintf(path, sizeof path, "/api/v1/message/%s/raw", qid); /* qid: checked 0-9A-Za-z by the caller */
	long status = remote_get(r, path, out);
	if (status == 200)
		return 0;
	free(out->p);
	*out = (struct remote_body){ NULL, 0 };
	if (status == 404)
		return 1;
	if (status < 0)
		report_error("%s: %s", r->label, r->why);
	else
		report_error("%s: %s answered HTTP %ld%s", r->label, path, status,
			     status == 401 ? " (credentials: http://USER:PASS@HOST:PORT)" : "");
	return -1;
}

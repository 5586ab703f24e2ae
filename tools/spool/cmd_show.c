/*
 * tools/spool/cmd_show.c - `show ID`: everything known about one message
 * except its body: envelope, session facts, flags, size, where it is
 * stored, and the header fields of its first header block.
 *
 * Owns: the show layout (a label per line; client text cleaned for the
 * terminal) and `show --json` (the message object plus "headers").  A
 * message on a --remote node shows what its ID and bytes tell: time,
 * node, shard, size and headers (the API carries no envelope).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "json_out.h"
#include "mail_header.h"
#include "msg_source.h"
#include "queue_id.h"
#include "report.h"
#include "spool_cli.h"
#include "text_out.h"
#include "when.h"

#define ADDR_TEXT_BYTES 64u

static void label(const char *name)
{
	printf("%-12s ", name);
}

static void line_view(const char *name, struct smtp_view v)
{
	label(name);
	if (v.len)
		text_out_clean(stdout, v.ptr, v.len, 0, 0);
	else
		fputs("-", stdout);
	fputc('\n', stdout);
}

/* "<path> params" */
static void path_line(const char *name, struct smtp_view path, struct smtp_view params)
{
	label(name);
	fputc('<', stdout);
	text_out_clean(stdout, path.ptr, path.len, 0, 0);
	fputc('>', stdout);
	if (params.len) {
		fputc(' ', stdout);
		text_out_clean(stdout, params.ptr, params.len, 0, 0);
	}
	fputc('\n', stdout);
}

static void show_flags(uint32_t flags)
{
	label("Flags:");
	if (flags == 0)
		fputs("-", stdout);
	for (unsigned bit = 0; bit < 32; bit++) {
		const char *name = msg_flag_name(1u << bit);
		if (!(flags & (1u << bit)))
			continue;
		if (name)
			printf("%s ", name);
		else
			printf("bit%u ", bit);
	}
	fputc('\n', stdout);
}

static void show_envelope(const struct msg *m)
{
	char when[WHEN_TEXT_BYTES], addr[ADDR_TEXT_BYTES];
	when_iso(m->received_us, true, when, sizeof when);
	line_view("Queue ID:", m->qid);
	printf("%-12s %s (%llu us since the epoch)\n", "Received:", when, (unsigned long long)m->received_us);
	printf("%-12s shard-%02u/%08llu.seg offset %llu (shard %u, node %u)\n", "Stored in:", m->shard,
	       (unsigned long long)m->segno, (unsigned long long)m->offset, m->shard, m->node);
	msg_client_addr(m, addr, sizeof addr);
	if (addr[0])
		printf("%-12s %s port %u\n", "Client:", addr, m->port);
	else
		printf("%-12s unix socket\n", "Client:");
	line_view("HELO:", m->helo);
	line_view("Protocol:", m->protocol);
	line_view("AUTH user:", m->auth_user);
	if (m->tls.len) { /* "TLS: TLSv1.3 TLS_AES_256_GCM_SHA384 (SNI mx.example)" */
		label("TLS:");
		text_out_tls(stdout, m->tls, m->tls_sni);
	}
	if (m->session_id.len) {
		label("Session:");
		text_out_clean(stdout, m->session_id.ptr, m->session_id.len, 0, 0);
		printf(" (%s session ", REPORT_PROG);
		text_out_clean(stdout, m->session_id.ptr, m->session_id.len, 0, 0);
		puts(")");
	}
	path_line("Mail from:", m->mail_from, m->mail_params);
	size_t pos = 0;
	struct smtp_view rcpt, params;
	for (bool first = true; msg_rcpt_next(m, &pos, &rcpt, &params); first = false)
		path_line(first ? "Rcpt to:" : "", rcpt, params);
	printf("%-12s %u\n%-12s %llu bytes\n", "Recipients:", m->rcpt_count,
	       "Size:", (unsigned long long)m->rec.body_len);
	show_flags(m->rec.flags);
}

static void show_headers(const uint8_t *body, uint64_t len)
{
	size_t pos = 0;
	struct smtp_view name, value;
	puts("Headers:");
	while (mail_header_next(body, len, &pos, &name, &value)) {
		fputs("  ", stdout);
		text_out_clean(stdout, name.ptr, name.len, 0, 0);
		fputc(':', stdout);
		/* folded lines stay folded: a line break then the fold's blank;
		 * each line is cleaned whole, so no UTF-8 character is split */
		for (size_t i = 0, end; i < value.len; i = end + 1) {
			const uint8_t *lf = memchr(value.ptr + i, '\n', value.len - i);
			end = lf ? (size_t)(lf - value.ptr) : value.len;
			size_t n = end - i - (end > i && value.ptr[end - 1] == '\r');
			text_out_clean(stdout, value.ptr + i, n, 0, 0);
			if (lf)
				fputs("\n  ", stdout);
		}
		fputc('\n', stdout);
	}
}

/* ,"headers":[...]} and the line's end. */
static void show_json_headers(const uint8_t *body, uint64_t len)
{
	char value[MAIL_HEADER_UNFOLD_MAX_BYTES];
	size_t pos = 0;
	struct smtp_view name, raw;
	fputs(",\"headers\":[", stdout);
	for (bool first = true; mail_header_next(body, len, &pos, &name, &raw); first = false) {
		size_t n = mail_header_unfold(raw, false, value, sizeof value);
		fputs(first ? "{\"name\":" : ",{\"name\":", stdout);
		json_out_str(stdout, name.ptr, name.len);
		fputs(",\"value\":", stdout);
		json_out_str(stdout, (const uint8_t *)value, n);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void show_json(const struct msg *m)
{
	fputc('{', stdout);
	json_out_msg_fields(stdout, m);
	show_json_headers(m->rec.body, m->rec.body_len);
}

static int show_one(void *arg, struct msg *m)
{
	bool json = *(const bool *)arg;
	msg_read_subject(m);
	if (json) {
		show_json(m);
	} else {
		show_envelope(m);
		if (m->subject_state == MSG_SUBJECT_PRESENT)
			line_view("Subject:", smtp_view_make(m->subject, m->subject_len));
		show_headers(m->rec.body, m->rec.body_len);
	}
	return SPOOL_EXIT_OK;
}

/* A node's message: what its queue ID and bytes tell. */
static int show_raw(void *arg, const char *qid, const uint8_t *raw, size_t len, const char *node)
{
	bool json = *(const bool *)arg;
	uint64_t us;
	uint32_t node_id, shard;
	char when[WHEN_TEXT_BYTES];
	queue_id_parse(qid, strlen(qid), &us, &node_id, &shard); /* checked by msg_source.c */
	when_iso(us, true, when, sizeof when);
	if (json) {
		printf("{\"qid\":\"%s\",\"received\":\"%s\",\"received_us\":%llu,\"shard\":%u,\"node\":%u,\"size\":%zu,"
		       "\"source\":",
		       qid, when, (unsigned long long)us, shard, node_id, len);
		json_out_str(stdout, (const uint8_t *)node, strlen(node));
		show_json_headers(raw, len);
		return SPOOL_EXIT_OK;
	}
	printf("%-12s %s\n%-12s %s (%llu us since the epoch)\n", "Queue ID:", qid, "Received:", when,
	       (unsigned long long)us);
	label("Stored on:");
	text_out_clean(stdout, (const uint8_t *)node, strlen(node), 0, 0);
	printf(" (shard %u, node %u; its API sends no envelope)\n%-12s %zu bytes\n", shard, node_id, "Size:", len);
	show_headers(raw, len);
	return SPOOL_EXIT_OK;
}

int cmd_show(const struct cmd_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	struct cli c;
	spool_cli_init(&c, "show", "ID", "Show the envelope, session facts and headers of one message.");
	cli_add(&c, cli_flag("json", &json, "one JSON object: the ls fields plus \"headers\""));
	struct msg_source_acts acts = { show_one, show_raw, &json };
	return msg_source_with(ctx, &c, argc, argv, &acts);
}

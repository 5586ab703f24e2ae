/*
 * tools/spool/cmd_cat.c - `cat ID`: the message exactly as received (after
 * dot-unstuffing), byte for byte, to stdout; `--envelope` first writes
 * the header lines Postfix smtp-sink puts in its capture files:
 *   X-Client-Addr: 127.0.0.1          (IPv6 as "IPv6:::1")
 *   X-Client-Proto: ESMTP
 *   X-Helo-Args: client.example       (when the client sent HELO/EHLO)
 *   X-Mail-Args: <a@example> SIZE=10  (MAIL FROM: arguments)
 *   X-Rcpt-Args: <b@example>          (one per recipient)
 *   Received: from client.example ([127.0.0.1])
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)   (over TLS)
 *   	by HOSTNAME (smtpsink) with ESMTP id QUEUEID;
 *   	Sat, 28 Nov 2026 12:00:00 +0000
 * They end with CRLF, or with LF when the message's first line does.
 *
 * Owns: those lines and writing the body.  The record is verified (its
 * checksum) before a byte is written.  A message on a --remote node is
 * its bytes as the node's API serves them (/api/v1/message/ID/raw); it
 * has no --envelope (the API carries no envelope).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "msg_source.h"
#include "report.h"
#include "spool_cli.h"
#include "when.h"

#define ADDR_TEXT_BYTES 64u
#define DEFAULT_HOSTNAME "smtpsink" /* the server's --hostname default */

static void put_path(FILE *f, const char *name, struct smtp_view path, struct smtp_view params, const char *eol)
{
	fprintf(f, "%s: <%.*s>", name, (int)path.len, (const char *)path.ptr);
	if (params.len)
		fprintf(f, " %.*s", (int)params.len, (const char *)params.ptr);
	fputs(eol, f);
}

static void put_envelope(FILE *f, const struct msg *m, const char *hostname)
{
	const char *eol = msg_line_end(m);
	char addr[ADDR_TEXT_BYTES], client[ADDR_TEXT_BYTES + 8], date[WHEN_TEXT_BYTES];
	msg_client_addr(m, addr, sizeof addr);
	snprintf(client, sizeof client, "%s%s", m->family == 6 ? "IPv6:" : "", addr[0] ? addr : "unix");
	fprintf(f, "X-Client-Addr: %s%s", client, eol);
	fprintf(f, "X-Client-Proto: %.*s%s", (int)m->protocol.len, (const char *)m->protocol.ptr, eol);
	if (m->helo.len)
		fprintf(f, "X-Helo-Args: %.*s%s", (int)m->helo.len, (const char *)m->helo.ptr, eol);
	put_path(f, "X-Mail-Args", m->mail_from, m->mail_params, eol);
	size_t pos = 0;
	struct smtp_view rcpt, params;
	while (msg_rcpt_next(m, &pos, &rcpt, &params))
		put_path(f, "X-Rcpt-Args", rcpt, params, eol);
	if (m->helo.len)
		fprintf(f, "Received: from %.*s ([%s])%s", (int)m->helo.len, (const char *)m->helo.ptr, client, eol);
	else
		fprintf(f, "Received: from [%s] ([%s])%s", client, client, eol);
	const uint8_t *sp = m->tls.len ? memchr(m->tls.ptr, ' ', m->tls.len) : NULL;
	if (sp != NULL) /* Postfix's words: "(using TLSv1.3 with cipher ...)" */
		fprintf(f, "\t(using %.*s with cipher %.*s)%s", (int)(sp - m->tls.ptr), (const char *)m->tls.ptr,
			(int)(m->tls.len - (size_t)(sp - m->tls.ptr) - 1), (const char *)sp + 1, eol);
	when_rfc5322(m->received_us, date, sizeof date);
	fprintf(f, "\tby %s (smtpsink) with %.*s id %.*s;%s\t%s%s", hostname, (int)m->protocol.len,
		(const char *)m->protocol.ptr, (int)m->qid.len, (const char *)m->qid.ptr, eol, date, eol);
}

struct cat_opts {
	bool envelope;
	const char *hostname;
};

static int cat_body(const uint8_t *p, size_t len)
{
	if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0) {
		report_error("cat: writing to stdout: %s", strerror(errno));
		return SPOOL_EXIT_IO;
	}
	return SPOOL_EXIT_OK;
}

static int cat_one(void *arg, struct msg *m)
{
	const struct cat_opts *o = arg;
	if (o->envelope)
		put_envelope(stdout, m, o->hostname);
	return cat_body(m->rec.body, (size_t)m->rec.body_len);
}

static int cat_raw(void *arg, const char *qid, const uint8_t *raw, size_t len, const char *node)
{
	const struct cat_opts *o = arg;
	if (o->envelope) {
		report_error("cat: %s is on %s, whose API sends no envelope: no --envelope", qid, node);
		return SPOOL_EXIT_USAGE;
	}
	return cat_body(raw, len);
}

int cmd_cat(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cat_opts o = { false, DEFAULT_HOSTNAME };
	struct cli c;
	spool_cli_init(&c, "cat", "ID", "Write one message, byte-exact, to stdout.");
	cli_add(&c, cli_flag("envelope", &o.envelope, "prepend smtp-sink style X-*-Args and Received headers"));
	cli_add(&c, cli_string("hostname", &o.hostname, "NAME", "name in the Received header (default smtpsink)"));
	struct msg_source_acts acts = { cat_one, cat_raw, &o };
	return msg_source_with(ctx, &c, argc, argv, &acts);
}

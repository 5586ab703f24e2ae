/*
 * tools/spool/text_out.c - the human table (text_out.h).
 *
 * Owns: column widths (sized for 14-character queue IDs and second-precision
 * UTC times) and the cleaning rule.  A column counts display units
 * (core/text_ctl.h), not bytes: a UTF-8 character takes one column.
 */
#include "text_out.h"

#include <string.h>

#include "json_out.h"
#include "text_ctl.h"
#include "when.h"

#define COL_QID 14u
#define COL_TIME 20u
#define COL_CLIENT 15u
#define COL_SENDER 28u
#define COL_RCPTS 32u
#define COL_SIZE 9u
#define ADDR_TEXT_BYTES 64u
#define RCPT_MORE_BYTES 16u

/* Display units in p[0..n): one column each (core/text_ctl.h). */
static size_t count_units(const uint8_t *p, size_t n)
{
	struct text_unit u;
	size_t c = 0;
	for (size_t i = 0; i < n; i += u.len, c++)
		text_unit_next(p + i, n - i, &u);
	return c;
}

size_t text_out_clean(FILE *f, const uint8_t *p, size_t n, size_t max_cols, size_t pad_cols)
{
	size_t keep = max_cols && count_units(p, n) > max_cols ? max_cols - 1 : (size_t)-1, cols = 0;
	struct text_unit u;
	for (size_t i = 0; i < n && cols != keep; i += u.len, cols++) {
		text_unit_next(p + i, n - i, &u);
		if (u.kind == TEXT_UNIT_CONTROL)
			fputc('?', f);
		else
			fwrite(p + i, 1, u.len, f);
	}
	if (keep != (size_t)-1) {
		fputc('~', f); /* cut */
		cols++;
	}
	for (; cols < pad_cols; cols++)
		fputc(' ', f);
	return cols;
}

const char *text_out_safe(const void *p, size_t n, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	buf[0] = '\0';
	if (f == NULL)
		return buf;
	text_out_clean(f, p, n, 0, 0);
	fclose(f); /* writes the NUL; a longer text is cut at cap - 1 */
	buf[cap - 1] = '\0';
	return buf;
}

/* One line's bytes (no LF): tabs raw, the rest cleaned or raw. */
static void line_out(FILE *f, const uint8_t *p, size_t n, bool clean)
{
	for (size_t i = 0, end; i < n; i = end + 1) {
		const uint8_t *tab = memchr(p + i, '\t', n - i);
		end = tab ? (size_t)(tab - p) : n;
		if (clean)
			text_out_clean(f, p + i, end - i, 0, 0);
		else
			fwrite(p + i, 1, end - i, f);
		if (tab)
			fputc('\t', f);
	}
}

void text_out_lines(FILE *f, const uint8_t *p, size_t n, bool clean)
{
	for (size_t i = 0, end; i < n; i = end + 1) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		end = lf ? (size_t)(lf - p) : n;
		line_out(f, p + i, end - i - (end > i && p[end - 1] == '\r'), clean);
		fputc('\n', f);
	}
}

void text_out_ls_header(FILE *f)
{
	fprintf(f, "%-*s %-*s %-*s %-*s %-*s %*s  %s\n", COL_QID, "QUEUE ID", COL_TIME, "RECEIVED (UTC)", COL_CLIENT,
		"CLIENT", COL_SENDER, "SENDER", COL_RCPTS, "RECIPIENTS", COL_SIZE, "SIZE", "SUBJECT");
}

static void text_col(FILE *f, const char *s, size_t width)
{
	text_out_clean(f, (const uint8_t *)s, strlen(s), width, width);
	fputc(' ', f);
}

void text_out_ls_cols(FILE *f, const struct text_out_ls_row *row)
{
	char when[WHEN_TEXT_BYTES];
	text_out_clean(f, row->qid.ptr, row->qid.len, 0, COL_QID);
	fputc(' ', f);
	when_iso(row->received_us, false, when, sizeof when);
	text_col(f, when, COL_TIME);
	text_col(f, row->client, COL_CLIENT);
	if (row->sender.len)
		text_out_clean(f, row->sender.ptr, row->sender.len, COL_SENDER, COL_SENDER);
	else
		text_out_clean(f, (const uint8_t *)"<>", 2, COL_SENDER, COL_SENDER);
	fputc(' ', f);
	char more[RCPT_MORE_BYTES] = "";
	if (row->rcpt_count > 1)
		snprintf(more, sizeof more, " +%u", row->rcpt_count - 1);
	size_t cols = text_out_clean(f, row->first_rcpt.ptr, row->first_rcpt.len, COL_RCPTS - strlen(more), 0);
	fputs(more, f);
	for (cols += strlen(more); cols <= COL_RCPTS; cols++)
		fputc(' ', f);
	fprintf(f, "%*llu", COL_SIZE, (unsigned long long)row->size);
	if (row->subject != NULL) {
		fputs("  ", f);
		text_out_clean(f, (const uint8_t *)row->subject, row->subject_len, 0, 0);
	}
	fputc('\n', f);
}

void text_out_ls_line(FILE *f, const struct msg *m)
{
	char addr[ADDR_TEXT_BYTES];
	msg_client_addr(m, addr, sizeof addr);
	struct text_out_ls_row row = {
		.qid = m->qid,
		.received_us = m->received_us,
		.client = addr[0] ? addr : "unix",
		.sender = m->mail_from,
		.first_rcpt = m->first_rcpt,
		.rcpt_count = m->rcpt_count,
		.size = m->rec.body_len,
		.subject = m->subject_state == MSG_SUBJECT_PRESENT ? m->subject : NULL,
		.subject_len = m->subject_len,
	};
	text_out_ls_cols(f, &row);
}

void text_out_row(FILE *f, const struct msg *m, bool json, const char *source)
{
	if (json)
		json_out_msg(f, m, source);
	else
		text_out_ls_line(f, m);
}

void text_out_tls(FILE *f, struct smtp_view tls, struct smtp_view sni)
{
	text_out_clean(f, tls.ptr, tls.len, 0, 0);
	if (sni.len) {
		fputs(" (SNI ", f);
		text_out_clean(f, sni.ptr, sni.len, 0, 0);
		fputc(')', f);
	}
	fputc('\n', f);
}

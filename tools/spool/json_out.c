/*
 * tools/spool/json_out.c - JSON escaping and the message object
 * (json_out.h).
 *
 * Owns: byte-level escaping (display units and controls come from
 * core/text_ctl.h, the same rule as the terminal output) and the message
 * object layout.
 * Workload: one object per listed message; output goes through stdio.
 */
#include "json_out.h"

#include <string.h>

#include "text_ctl.h"
#include "when.h"

#define HEX_DIGITS "0123456789abcdef"
#define ADDR_TEXT_BYTES 64u

static void put_u00(FILE *f, uint8_t b)
{
	fprintf(f, "\\u00%c%c", HEX_DIGITS[b >> 4], HEX_DIGITS[b & 15]);
}

static void put_ascii(FILE *f, uint8_t b)
{
	switch (b) {
	case '"':
		fputs("\\\"", f);
		break;
	case '\\':
		fputs("\\\\", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	case '\b':
		fputs("\\b", f);
		break;
	case '\f':
		fputs("\\f", f);
		break;
	default:
		if (b < 0x20 || b == 0x7f)
			put_u00(f, b);
		else
			fputc(b, f);
	}
}

void json_out_str(FILE *f, const uint8_t *p, size_t n)
{
	struct text_unit u;
	fputc('"', f);
	for (size_t i = 0; i < n; i += u.len) {
		text_unit_next(p + i, n - i, &u);
		switch (u.kind) {
		case TEXT_UNIT_ASCII:
			put_ascii(f, p[i]);
			break;
		case TEXT_UNIT_CONTROL: /* C0 and DEL by put_ascii (\n, \t, ...), C1 as \u0080.. */
			if (u.code < 0x80)
				put_ascii(f, p[i]);
			else
				put_u00(f, (uint8_t)u.code);
			break;
		case TEXT_UNIT_BYTE:
			put_u00(f, p[i]); /* not UTF-8: the byte as Latin-1 */
			break;
		case TEXT_UNIT_UTF8:
			/* U+2028 and U+2029 (E2 80 A8/A9) end lines in JavaScript */
			if (u.len == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
				fprintf(f, "\\u%s", p[i + 2] == 0xA8 ? "2028" : "2029");
			else
				fwrite(p + i, 1, u.len, f);
			break;
		}
	}
	fputc('"', f);
}

static void key_view(FILE *f, const char *key, struct smtp_view v)
{
	fprintf(f, ",\"%s\":", key);
	json_out_str(f, v.ptr, v.len);
}

void json_out_client(FILE *f, uint8_t family, const uint8_t addr[16], uint16_t port)
{
	char text[ADDR_TEXT_BYTES];
	msg_addr_text(family, addr, text, sizeof text);
	const char *name = family == 4 ? "ipv4" : family == 6 ? "ipv6" : "unix";
	fprintf(f, ",\"client\":{\"family\":\"%s\",\"addr\":", name);
	json_out_str(f, (const uint8_t *)text, strlen(text));
	fprintf(f, ",\"port\":%u}", port);
}

static void put_rcpts(FILE *f, const struct msg *m)
{
	size_t pos = 0;
	struct smtp_view addr, params;
	fputs(",\"rcpts\":[", f);
	for (bool first = true; msg_rcpt_next(m, &pos, &addr, &params); first = false) {
		fputs(first ? "{\"addr\":" : ",{\"addr\":", f);
		json_out_str(f, addr.ptr, addr.len);
		fputs(",\"params\":", f);
		json_out_str(f, params.ptr, params.len);
		fputc('}', f);
	}
	fputc(']', f);
}

static void put_flags(FILE *f, uint32_t flags)
{
	fputs(",\"flags\":[", f);
	bool first = true;
	for (unsigned bit = 0; bit < 32; bit++) {
		uint32_t b = 1u << bit;
		if (!(flags & b))
			continue;
		const char *name = msg_flag_name(b);
		if (name)
			fprintf(f, "%s\"%s\"", first ? "" : ",", name);
		else
			fprintf(f, "%s\"bit%u\"", first ? "" : ",", bit);
		first = false;
	}
	fputc(']', f);
}

void json_out_msg_fields(FILE *f, const struct msg *m)
{
	char when[WHEN_TEXT_BYTES];
	when_iso(m->received_us, true, when, sizeof when);
	fputs("\"qid\":", f);
	json_out_str(f, m->qid.ptr, m->qid.len);
	fprintf(f, ",\"received\":\"%s\",\"received_us\":%llu,\"shard\":%u,\"node\":%u", when,
		(unsigned long long)m->received_us, m->shard, m->node);
	json_out_client(f, m->family, m->addr, m->port);
	key_view(f, "helo", m->helo);
	key_view(f, "protocol", m->protocol);
	key_view(f, "auth_user", m->auth_user);
	key_view(f, "mail_from", m->mail_from);
	key_view(f, "mail_params", m->mail_params);
	put_rcpts(f, m);
	fprintf(f, ",\"rcpt_count\":%u,\"size\":%llu", m->rcpt_count, (unsigned long long)m->rec.body_len);
	put_flags(f, m->rec.flags);
	fputs(",\"subject\":", f);
	if (m->subject_state == MSG_SUBJECT_PRESENT)
		json_out_str(f, (const uint8_t *)m->subject, m->subject_len);
	else
		fputs("null", f);
	key_view(f, "session_id", m->session_id);
	key_view(f, "tls", m->tls);
	key_view(f, "tls_sni", m->tls_sni);
	fprintf(f, ",\"segment\":%llu,\"file\":\"shard-%02u/%08llu.seg\",\"offset\":%llu", (unsigned long long)m->segno,
		m->shard, (unsigned long long)m->segno, (unsigned long long)m->offset);
}

void json_out_msg(FILE *f, const struct msg *m, const char *source)
{
	fputc('{', f);
	json_out_msg_fields(f, m);
	if (source != NULL) {
		fputs(",\"source\":", f);
		json_out_str(f, (const uint8_t *)source, strlen(source));
	}
	fputs("}\n", f);
}

/*
 * tools/spool/msg.c - decoding a record into struct msg (msg.h).
 *
 * Owns: the meaning of each metadata tag for display, the checks that a
 * record is the one its index entry names (header lengths, flags, queue
 * ID), and the Subject lookup.  The flag names shown by show and in JSON
 * are core's (smtp_msg_flags.c).
 * Unknown tags are skipped, as docs/SPOOL-FORMAT.md requires.  Integers
 * inside fields are little-endian; they are read a byte at a time here
 * because core/ keeps its byte helpers private.
 *
 * Workload: one head decode per listed message (a few hundred bytes of
 * metadata); a verified decode hashes the whole record once.
 */
#include "msg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mail_header.h"
#include "smtp_msg_flags.h"

#define CLIENT_FIELD_BYTES 20u
#define CLIENT_OFF_PORT 2u
#define CLIENT_OFF_ADDR 4u

static uint64_t le_get(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void set_client(struct msg *m, struct smtp_view v)
{
	if (v.len != CLIENT_FIELD_BYTES)
		return;
	m->family = v.ptr[0];
	m->port = (uint16_t)le_get(v.ptr + CLIENT_OFF_PORT, 2);
	memcpy(m->addr, v.ptr + CLIENT_OFF_ADDR, sizeof m->addr);
}

/* One metadata field into m. */
static void set_field(struct msg *m, uint8_t tag, struct smtp_view v)
{
	switch (tag) {
	case SPOOL_TAG_QUEUE_ID:
		m->qid = v;
		break;
	case SPOOL_TAG_RECEIVED_US:
		m->received_us = v.len == 8 ? le_get(v.ptr, 8) : 0;
		break;
	case SPOOL_TAG_SHARD:
		break; /* the directory says it; verify compares */
	case SPOOL_TAG_NODE:
		m->node = v.len == 4 ? (uint32_t)le_get(v.ptr, 4) : 0;
		break;
	case SPOOL_TAG_CLIENT:
		set_client(m, v);
		break;
	case SPOOL_TAG_HELO:
		m->helo = v;
		break;
	case SPOOL_TAG_PROTOCOL:
		m->protocol = v;
		break;
	case SPOOL_TAG_AUTH_USER:
		m->auth_user = v;
		break;
	case SPOOL_TAG_MAIL_FROM:
		m->mail_from = v;
		break;
	case SPOOL_TAG_MAIL_PARAMS:
		m->mail_params = v;
		break;
	case SPOOL_TAG_RCPT:
		if (m->rcpt_count++ == 0)
			m->first_rcpt = v;
		break;
	case SPOOL_TAG_TLS:
		m->tls = v;
		break;
	case SPOOL_TAG_TLS_SNI:
		m->tls_sni = v;
		break;
	case SPOOL_TAG_SESSION_ID:
		m->session_id = v;
		break;
	default:
		break; /* a newer field: skipped */
	}
}

static bool decode_meta(struct msg *m)
{
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed = false;
	while (spool_meta_next(&m->rec, &pos, &tag, &v, &malformed))
		set_field(m, tag, v);
	return !malformed;
}

/* The header of the record at p: on success rec has the header fields and
 * meta/body point into p (the body unverified). */
static enum msg_status decode_head(struct msg *m, const uint8_t *p)
{
	/* Fed only the 48 header bytes, the decoder checks the header
	 * checksum and stops with SHORT: the body is not hashed. */
	if (spool_record_decode(p, SPOOL_RECORD_HEADER_BYTES, &m->rec) != SPOOL_SHORT || m->rec.record_len == 0)
		return MSG_BAD_HEADER;
	m->rec.meta = p + SPOOL_RECORD_HEADER_BYTES;
	m->rec.body = m->rec.meta + m->rec.meta_len;
	return MSG_OK;
}

enum msg_status msg_decode(struct msg *m, const uint8_t *p, uint64_t avail, const struct spool_index_entry *e,
			   bool verify)
{
	memset(m, 0, offsetof(struct msg, subject));
	if (p == NULL || avail < e->record_len || e->record_len < SPOOL_RECORD_HEADER_BYTES)
		return MSG_OUT_OF_RANGE;
	enum msg_status st = decode_head(m, p);
	if (st != MSG_OK)
		return st;
	if (m->rec.record_len != e->record_len || m->rec.meta_len != e->meta_len || m->rec.flags != e->flags)
		return MSG_MISMATCH;
	if (verify) {
		if (spool_record_decode(p, (size_t)e->record_len, &m->rec) != SPOOL_OK)
			return MSG_BAD_CHECKSUM;
		m->verified = true;
	}
	if (!decode_meta(m))
		return MSG_BAD_META;
	size_t qlen = strnlen(e->qid, MSG_QID_BYTES);
	if (m->qid.len != qlen || memcmp(m->qid.ptr, e->qid, qlen) != 0)
		return MSG_MISMATCH;
	return MSG_OK;
}

bool msg_rcpt_next(const struct msg *m, size_t *pos, struct smtp_view *addr, struct smtp_view *params)
{
	uint8_t tag;
	struct smtp_view v;
	bool malformed;
	while (spool_meta_next(&m->rec, pos, &tag, &v, &malformed)) {
		if (tag != SPOOL_TAG_RCPT)
			continue;
		*addr = v;
		*params = smtp_view_make("", 0);
		size_t peek = *pos;
		if (spool_meta_next(&m->rec, &peek, &tag, &v, &malformed) && tag == SPOOL_TAG_RCPT_PARAMS) {
			*params = v;
			*pos = peek;
		}
		return true;
	}
	return false;
}

void msg_read_subject(struct msg *m)
{
	if (m->subject_state != MSG_SUBJECT_UNREAD)
		return;
	struct smtp_view raw;
	m->subject_state = MSG_SUBJECT_NONE;
	m->subject_len = 0;
	if (mail_header_find(m->rec.body, m->rec.body_len, "Subject", &raw)) {
		m->subject_len = mail_header_unfold(raw, true, m->subject, sizeof m->subject);
		m->subject_state = MSG_SUBJECT_PRESENT;
	}
}

const char *msg_line_end(const struct msg *m)
{
	const uint8_t *lf = memchr(m->rec.body, '\n', (size_t)m->rec.body_len);
	return lf != NULL && (lf == m->rec.body || lf[-1] != '\r') ? "\n" : "\r\n";
}

void msg_addr_text(uint8_t family, const uint8_t addr[16], char *buf, size_t size)
{
	int af = family == 4 ? AF_INET : family == 6 ? AF_INET6 : 0;
	if (af == 0 || inet_ntop(af, addr, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "%s", "");
}

void msg_client_addr(const struct msg *m, char *buf, size_t size)
{
	msg_addr_text(m->family, m->addr, buf, size);
}

const char *msg_flag_name(uint32_t bit)
{
	return smtp_msg_flags_name(bit);
}

const char *msg_status_text(enum msg_status s)
{
	switch (s) {
	case MSG_OK:
		return "ok";
	case MSG_OUT_OF_RANGE:
		return "index entry points past the end of the segment";
	case MSG_BAD_HEADER:
		return "record header does not verify (magic, version, lengths or header checksum)";
	case MSG_BAD_CHECKSUM:
		return "record checksum or trailer is wrong";
	case MSG_MISMATCH:
		return "record does not match its index entry (lengths, flags or queue ID)";
	case MSG_BAD_META:
		return "malformed metadata field";
	}
	return "?";
}

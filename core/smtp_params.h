/*
 * core/smtp_params.h - meaning of MAIL and RCPT parameters.
 *
 * Owns: SIZE (RFC 1870), BODY (RFC 6152, 3030), SMTPUTF8 (RFC 6531), AUTH
 * (RFC 4954), RET/ENVID/NOTIFY/ORCPT (RFC 3461): which are allowed (only
 * when their extension is advertised), their syntax, duplicates, and the
 * exact refusal reply.  Numbers never wrap: SIZE is parsed with an overflow
 * check and any value above the limit is refused.  xtext values (AUTH,
 * ENVID, ORCPT) must not decode to control bytes, so an encoded CR or LF
 * can never reach the spool's metadata (Exim CVE-2020-28021 class).
 */
#ifndef SMTPSINK_SMTP_PARAMS_H
#define SMTPSINK_SMTP_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp_reply.h"
#include "smtp_view.h"

/* Parsed MAIL parameters (RFC 1870, 6152, 3030, 6531, 4954, 3461). */
enum smtp_body_type {
	SMTP_BODY_UNSPECIFIED,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};
enum smtp_dsn_ret {
	SMTP_RET_UNSPECIFIED,
	SMTP_RET_FULL,
	SMTP_RET_HDRS
};

struct smtp_mail_params {
	uint64_t size_bytes; /* SIZE=, 0 if absent */
	enum smtp_body_type body;
	enum smtp_dsn_ret ret;
	bool smtputf8;
	struct smtp_view auth; /* AUTH= value (xtext, undecoded), or empty */
	struct smtp_view envid; /* ENVID= value (xtext), or empty */
};

struct smtp_rcpt_params {
	uint8_t notify; /* SMTP_NOTIFY_* bits, 0 if absent */
	struct smtp_view orcpt; /* ORCPT= value, or empty */
};
enum {
	SMTP_NOTIFY_NEVER = 1u << 0,
	SMTP_NOTIFY_SUCCESS = 1u << 1,
	SMTP_NOTIFY_FAILURE = 1u << 2,
	SMTP_NOTIFY_DELAY = 1u << 3,
};

/* Parse MAIL parameters.  Returns true if all are acceptable; otherwise
 * false with *refusal set to the reply to send. */
bool smtp_params_mail(struct smtp_view params, uint32_t ext, uint64_t max_size_bytes, struct smtp_mail_params *mp,
		      struct smtp_reply_spec *refusal);

bool smtp_params_rcpt(struct smtp_view params, uint32_t ext, struct smtp_rcpt_params *rp,
		      struct smtp_reply_spec *refusal);

/* True if v is valid xtext (RFC 3461 4) decoding to printable ASCII only. */
bool smtp_params_xtext_ok(struct smtp_view v);

#endif

/*
 * core/smtp_config.h - protocol behaviour switches shared by every session.
 *
 * Owns: the read-only configuration a session consults (hostname, limits,
 * advertised ESMTP extensions, strictness switches, bare-LF policy) and its
 * defaults.  One struct per server, shared by all sessions of all shards;
 * never written after start-up, so no locking is needed.
 *
 * Defaults are lenient on purpose: a sink must accept what buggy clients
 * send.  Each strict_* switch turns one leniency into the RFC-mandated error.
 */
#ifndef SMTPSINK_SMTP_CONFIG_H
#define SMTPSINK_SMTP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ESMTP extensions advertised in the EHLO reply; each can be switched off
 * (smtp-sink: -p PIPELINING, -8 8BITMIME, -E ENHANCEDSTATUSCODES, -N DSN,
 * -a AUTH, -e all of ESMTP).  Turning one off also disables its commands
 * and MAIL/RCPT parameters.  Each bit has a row in core/smtp_verbs.c (EHLO
 * keyword and line order, the --no-X switch). */
enum smtp_ext {
	SMTP_EXT_PIPELINING = 1u << 0,
	SMTP_EXT_SIZE = 1u << 1,
	SMTP_EXT_8BITMIME = 1u << 2,
	SMTP_EXT_SMTPUTF8 = 1u << 3,
	SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 4,
	SMTP_EXT_CHUNKING = 1u << 5,
	SMTP_EXT_DSN = 1u << 6,
	SMTP_EXT_AUTH = 1u << 7,
	SMTP_EXT_ESMTP = 1u << 8, /* off: EHLO is refused, only HELO works */
	SMTP_EXT_STARTTLS = 1u << 9, /* RFC 3207; offered only when the layer
					above can run TLS (a certificate), and
					not once TLS is on */
	SMTP_EXT_COUNT = 10, /* the bits above */
	SMTP_EXT_ALL = (1u << SMTP_EXT_COUNT) - 1,
};

/* What to do with a bare LF (an LF not preceded by CR) in message content
 * and command lines.  Detection of end of data never changes: only CRLF . CRLF
 * ends a message, whatever the policy (SMTP smuggling, CVE-2023-51764). */
enum smtp_bare_lf_policy {
	SMTP_BARE_LF_PRESERVE, /* store bytes exactly, count and flag them */
	SMTP_BARE_LF_NORMALIZE, /* store a bare LF in content as CRLF */
	SMTP_BARE_LF_REJECT, /* 550 5.5.2 after end of data; no message kept */
};

struct smtp_config {
	const char *hostname; /* greeting, HELO/EHLO replies; NUL-terminated */
	uint64_t max_size_bytes; /* SIZE limit; 0 means no limit */
	uint32_t max_rcpts; /* per transaction (>= SMTP_RCPTS_MIN_ALLOWED) */
	uint32_t max_errors; /* client errors before 421 and close; 0: never */
	uint32_t ext; /* enum smtp_ext bits advertised */
	enum smtp_bare_lf_policy bare_lf;
	bool lmtp; /* LHLO, one reply per recipient after end of data */
	bool auth_reject; /* AUTH always fails 535 (default: any accepted) */
	bool strict_helo_name; /* HELO/EHLO without a hostname: 501 */
	bool strict_helo_first; /* MAIL before HELO/EHLO: 503 */
	bool strict_sync; /* input after a group-ending command: 554 + close */
	bool strict_address; /* MAIL FROM:a@b (no brackets), 8-bit address
				without SMTPUTF8: rejected instead of flagged */
	bool require_tls; /* MAIL before TLS: 530 5.7.0 (RFC 3207 4) */
};

/* Fill *cfg with the documented defaults (hostname "smtpsink"). */
void smtp_config_defaults(struct smtp_config *cfg);

/* Return NULL if *cfg is usable, else a static message saying why not. */
const char *smtp_config_check(const struct smtp_config *cfg);

#endif

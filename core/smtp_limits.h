/*
 * core/smtp_limits.h - every protocol limit smtpsink enforces, in one place.
 *
 * Owns: the named constants for line lengths, path lengths, recipient and
 * error caps, with the RFC section each one comes from.  Nothing here is a
 * tunable default of the server (those live in smtp_config.h); these are the
 * hard bounds that size the fixed per-session buffers.
 */
#ifndef SMTPSINK_SMTP_LIMITS_H
#define SMTPSINK_SMTP_LIMITS_H

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF. */
#define SMTP_COMMAND_LINE_MAX_BYTES 512u

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
 * smtpsink accepts longer lines (a sink's limit is higher) and flags them. */
#define SMTP_TEXT_LINE_MAX_BYTES 1000u

/* RFC 5321 4.5.3.1.1 / 4.5.3.1.2 / 4.5.3.1.3. */
#define SMTP_LOCAL_PART_MAX_BYTES 64u
#define SMTP_DOMAIN_MAX_BYTES 255u
#define SMTP_PATH_MAX_BYTES 256u

/* RFC 5321 4.5.3.1.8: a server MUST accept at least 100 recipients. */
#define SMTP_RCPTS_MIN_ALLOWED 100u
#define SMTP_RCPTS_DEFAULT 1000u

/* Recipients refused 452 over the cap before each further one counts as a
 * client error (Postfix's smtpd_recipient_overshoot_limit). */
#define SMTP_RCPT_OVERSHOOT_MAX 1000u

/* Errors (4xx/5xx caused by the client) before 421 and close; Postfix's
 * smtpd_hard_error_limit default. */
#define SMTP_ERRORS_DEFAULT 20u

/* Default maximum message size advertised with SIZE (RFC 1870). */
#define SMTP_SIZE_DEFAULT_BYTES (50u * 1024u * 1024u)

/* The largest reply line smtpsink ever writes in one go (RFC 5321
 * 4.5.3.1.5: 512 octets including CRLF).  The session only starts a command
 * when at least this much output space is free. */
#define SMTP_REPLY_LINE_MAX_BYTES 512u

/* Output space the session needs free before it acts on a command: room for
 * the longest multi-line reply (EHLO with every keyword). */
#define SMTP_OUT_RESERVE_BYTES 1024u

/* RFC 3461 4.4: ENVID is at most 100 characters. */
#define SMTP_ENVID_MAX_BYTES 100u

/* Queue IDs are at most this long (printable, no NUL). */
#define SMTP_QID_MAX_BYTES 20u

#endif

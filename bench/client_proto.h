/*
 * bench/client_proto.h - the client side of one SMTP session, as pure code:
 * fed reply bytes, it decides and writes the next bytes to send.
 *
 * Owns: the reply parser (multi-line replies, codes, EHLO keywords, the
 * "queued as ID" text), what each mode sends and when:
 *   connect   banner, EHLO, [AUTH], MAIL, RCPT..., DATA, content, QUIT;
 *   reuse     the same, many transactions per session, RSET before every
 *             MAIL but a session's first (a connection cache's probe);
 *             --no-rset leaves it out (smtp-source -d);
 *   pipeline  RFC 2920 groups: [RSET] MAIL RCPT... DATA in one write; then
 *             content, end of data and the next group in one write;
 *   bdat      [RSET] MAIL RCPT... "BDAT n LAST" and the content in one write
 *             (RFC 3030).
 * With starttls (RFC 3207) the first EHLO is followed by STARTTLS; its 220
 * leaves the session in CLIENT_STARTTLS until the caller has made the TLS
 * handshake and calls client_proto_tls_started(), then EHLO is sent again
 * and the session goes on as above.  Implicit TLS is the caller's alone
 * (the session starts once the handshake is done).
 * A transaction that failed before its end of data (MAIL or every RCPT
 * refused, DATA refused) is followed by RSET whatever the mode.
 *
 * Contract (like core/): the caller owns input and output.  feed() always
 * consumes all input and reports each reply through on_event; write() is
 * called only when want_write() says so and no earlier output is still
 * being sent, and appends to a buffer of client_proto_out_bytes() bytes.
 * At most one write is outstanding: the next one needs replies to this one,
 * so there is never more than one output pending.  Time is passed in
 * (now_ns); nothing here reads a clock.
 *
 * Messages come from the caller's next_msg hook when the session is ready
 * for one: CLIENT_SRC_MSG starts a transaction, CLIENT_SRC_WAIT leaves the
 * session idle until client_proto_wake(), CLIENT_SRC_DONE sends QUIT.  Every
 * transaction started ends in exactly one MESSAGE or TXN_FAILED event (a
 * message counts only if the end of data was answered 250).
 *
 * Memory: a session is about 250 bytes and holds no buffer of its own; the
 * reply text is kept per line, 96 bytes at most (enough for a queue ID).
 */
#ifndef SMTPSINK_CLIENT_PROTO_H
#define SMTPSINK_CLIENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_msg.h"

/* RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients;
 * smtpsink's default limit is 1000. */
#define CLIENT_RCPTS_MAX 1000u
#define CLIENT_TEXT_BYTES 96u /* kept of each reply line's text */
/* RFC 5321 4.5.3.1.5: reply lines are at most 512 octets; longer than
 * this and the reply is taken as garbage. */
#define CLIENT_REPLY_LINE_MAX_BYTES 4096u
#define CLIENT_QID_MAX_BYTES 64u
#define CLIENT_RUNS_MAX 6u /* expected-reply runs in one write: EOD RSET MAIL RCPT DATA */
#define CLIENT_HELO_MAX_BYTES 255u /* RFC 1035 2.3.4: a domain name */

enum client_mode {
	CLIENT_MODE_CONNECT,
	CLIENT_MODE_REUSE,
	CLIENT_MODE_PIPELINE,
	CLIENT_MODE_BDAT,
};

/* Steps timed separately.  CONNECT is timed by the I/O layer; MESSAGE is a
 * whole transaction from its intended start to its end-of-data reply. */
enum client_step {
	CLIENT_STEP_CONNECT,
	CLIENT_STEP_GREETING,
	CLIENT_STEP_EHLO,
	CLIENT_STEP_STARTTLS, /* the STARTTLS command's 220 */
	CLIENT_STEP_TLS_HANDSHAKE, /* timed by the I/O layer: the 220 (or connect) to the handshake's end */
	CLIENT_STEP_AUTH,
	CLIENT_STEP_RSET,
	CLIENT_STEP_MAIL,
	CLIENT_STEP_RCPT,
	CLIENT_STEP_DATA,
	CLIENT_STEP_EOD, /* end of data: "." after DATA content, or BDAT LAST */
	CLIENT_STEP_QUIT,
	CLIENT_STEP_MESSAGE,
	CLIENT_STEP_COUNT
};

/* Session-ending problems the protocol itself detects. */
enum client_error {
	CLIENT_ERR_NONE,
	CLIENT_ERR_MALFORMED_REPLY, /* not "ddd[ -]text CRLF", or a line too long */
	CLIENT_ERR_UNSOLICITED_REPLY, /* a reply when none was awaited */
	CLIENT_ERR_EXTENSION_MISSING, /* pipeline without PIPELINING, bdat without CHUNKING, starttls without STARTTLS */
};

enum client_ev_type {
	CLIENT_EV_REPLY, /* every reply: step, code, latency, expected */
	CLIENT_EV_MESSAGE, /* a transaction's end of data answered 250 */
	CLIENT_EV_TXN_FAILED, /* a transaction ended without that */
	CLIENT_EV_ERROR, /* the session cannot go on (error) */
};

struct client_event {
	enum client_ev_type type;
	enum client_step step; /* REPLY; TXN_FAILED: where it failed */
	enum client_error error; /* ERROR */
	unsigned code; /* REPLY, TXN_FAILED (0: connection lost), ERROR */
	bool expected; /* REPLY: the code the step wants */
	uint64_t latency_ns; /* REPLY: since written; MESSAGE: since intended start */
	uint64_t seq; /* MESSAGE, TXN_FAILED */
	uint64_t size_bytes; /* MESSAGE: content bytes sent */
	const char *qid; /* MESSAGE: the ID of "queued as ID", NULL if none */
	size_t qid_len;
};

enum client_src {
	CLIENT_SRC_MSG,
	CLIENT_SRC_WAIT,
	CLIENT_SRC_DONE
};

struct client_hooks {
	void (*on_event)(void *ctx, const struct client_event *ev);
	enum client_src (*next_msg)(void *ctx, struct client_msg *m);
};

struct client_cfg {
	enum client_mode mode;
	bool no_rset;
	uint32_t rcpts; /* 1..CLIENT_RCPTS_MAX */
	const char *helo;
	const char *auth_b64; /* AUTH PLAIN initial response; NULL: no AUTH */
	const struct client_msg_spec *msg;
	bool starttls; /* STARTTLS after the first EHLO (RFC 3207) */
};

enum client_status {
	CLIENT_ACTIVE, /* awaiting replies or with something to write */
	CLIENT_IDLE, /* ready for a message; none available yet */
	CLIENT_DONE, /* QUIT answered: close */
	CLIENT_FAILED, /* cannot go on: close without QUIT */
	CLIENT_STARTTLS, /* STARTTLS answered 220: the caller makes the TLS handshake */
};

struct client_txn {
	struct client_msg msg;
	uint16_t rcpts_sent, rcpts_ok;
	uint16_t last_code; /* the last refusal, for TXN_FAILED */
	bool in_use, failed;
};

struct client_run {
	uint8_t step; /* enum client_step */
	uint8_t slot; /* txn[] the replies belong to */
	uint16_t count;
};

struct client_proto {
	const struct client_cfg *cfg;
	const struct client_hooks *hooks;
	void *ctx;
	uint8_t status; /* enum client_status */
	uint8_t action; /* what write() does next (internal) */
	uint8_t content_slot; /* txn whose content goes next */
	bool need_rset; /* the last transaction ended early */
	bool quit_after; /* QUIT once the awaited replies are in */
	bool ext_pipelining, ext_chunking, ext_starttls;
	bool tls; /* STARTTLS done: the session is on TLS */
	uint8_t runs_head, runs_count;
	struct client_run runs[CLIENT_RUNS_MAX];
	uint64_t sent_ns; /* when the outstanding write was made */
	uint32_t txns_started;
	struct client_txn txn[2]; /* the current and (pipelined) the next */
	/* reply parser: what the current line has shown so far */
	uint8_t rp_state;
	bool rp_more; /* this line ends with "-": more lines follow */
	uint16_t rp_code;
	uint32_t rp_line_bytes;
	uint8_t text_len;
	char text[CLIENT_TEXT_BYTES];
};

/* A session whose connection just opened (now_ns): awaiting the banner. */
void client_proto_init(struct client_proto *s, const struct client_cfg *cfg, const struct client_hooks *hooks,
		       void *ctx, uint64_t now_ns);
void client_proto_feed(struct client_proto *s, const uint8_t *in, size_t len, uint64_t now_ns);
bool client_proto_want_write(const struct client_proto *s);
void client_proto_write(struct client_proto *s, struct client_out *out, uint64_t now_ns);
/* The STARTTLS handshake is done (status CLIENT_STARTTLS): EHLO again. */
void client_proto_tls_started(struct client_proto *s, uint64_t now_ns);
/* Implicit TLS: the banner's latency counts from now_ns (the handshake's
 * end), not from the connection. */
void client_proto_greeting_from(struct client_proto *s, uint64_t now_ns);
/* Idle: ask next_msg again at the next write. */
void client_proto_wake(struct client_proto *s);
/* The connection is lost (EOF, error, timeout): transactions in flight
 * fail; the session is over. */
void client_proto_abort(struct client_proto *s);
static inline enum client_status client_proto_status(const struct client_proto *s)
{
	return (enum client_status)s->status;
}
/* Replies are awaited (for timeouts). */
static inline bool client_proto_awaiting(const struct client_proto *s)
{
	return s->runs_count > 0;
}
/* Output buffer size this configuration needs for any one write. */
size_t client_proto_out_bytes(const struct client_cfg *cfg);
const char *client_step_name(enum client_step st);

#endif

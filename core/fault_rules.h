/*
 * core/fault_rules.h - fault injection rules: what to do to a client at a
 * given stage of its session, and with what odds.
 *
 * Owns: the rule language (--fault, --fault-file), its parsing and
 * validation, the random choice (a seeded per-session generator, so a
 * --seed makes every choice repeatable), and the recipient outcomes chosen
 * by the address itself (tempfail@, permfail@, 450-anything@).  Pure: no
 * clock, no I/O; the engine (io/) asks fault_decide() at each stage and
 * carries out the action (delaying a reply, closing the connection).
 * A parsed rule set is immutable, so all shards share one without locks;
 * a reload (SIGHUP) builds a new set and swaps it in.
 *
 * Rule language (docs/FAULTS.md is the user's guide):
 *
 *   RULE  := STAGE ':' ITEM { ':' ITEM }
 *   STAGE := connect | helo | mail | rcpt | data | bdat | content | dot |
 *            rset | noop | quit | vrfy | auth | tls | any
 *            (helo: HELO, EHLO and LHLO; data: the DATA command, its 354;
 *            content: after the 354 / first BDAT, before the end of data;
 *            dot: the reply to the end of data (or BDAT LAST); tls:
 *            STARTTLS and its handshake, or an implicit-TLS handshake;
 *            any: every command, not connect/content/dot)
 *   ITEM  := reply=CODE[ TEXT]      answer CODE TEXT instead of the
 *                                   normal reply (4xx/5xx refuse the
 *                                   command; 2xx/3xx run it and replace
 *                                   the success text)
 *          | close[=CODE[ TEXT]]    reply (default 421 4.7.0 <host>
 *                                   closing) and disconnect
 *          | disconnect             disconnect without any reply
 *          | fail                   tls only: the handshake fails with
 *                                   a TLS alert (after STARTTLS's 220)
 *          | delay=DUR[-DUR]        hold the reply this long (a range:
 *                                   uniformly random in it); at connect
 *                                   the banner, at content the reading
 *          | p=PROB                 0 < PROB <= 1 (default 1), or NN%
 *          | client=CIDR            only clients in this range
 *          | domain=DOMAIN          mail/rcpt only: the address's domain
 *                                   (case-insensitive; "*.example.com"
 *                                   matches subdomains too)
 *   DUR   := NUMBER ( ms | s | m ) ; a bare number is seconds
 *
 * Items are separated by ':', but a ':' belongs to the previous value
 * unless what follows it starts an item keyword (reply=, close, disconnect,
 * delay=, p=, client=, domain=), so texts and IPv6 ranges may contain ':'.
 * TEXT is printable ASCII (no CR, LF, NUL); when it does not start with an
 * enhanced status code (x.y.z) one matching CODE's class is put in front
 * ("4.0.0", "5.0.0", "2.0.0").  A rule has at most one of reply, close,
 * disconnect (its "answer"), and needs an answer or a delay.  Per stage:
 * connect allows only 4xx/5xx replies (sent as the banner, then the
 * connection is closed); tls allows 4xx/5xx replies (STARTTLS refused,
 * 454 4.7.0 is the usual one), fail, close, disconnect and delay (the 220
 * to STARTTLS, or an implicit handshake, waits); content allows delay, close and disconnect (no
 * reply is owed there); dot allows only 4xx/5xx replies.
 *
 * Choice: for one decision, the rules of the stage that match the client
 * (and domain) are considered in order.  Delay-only rules each roll their
 * own dice and their delays add up.  Rules with an answer share one draw u
 * in [0,1): the first whose cumulative probability (the sum of the p of the
 * answering rules before it, plus its own) exceeds u fires.  So in a
 * profile "p=0.02 421 ..., p=0.05 550 ..." the rates are exactly 2% and 5%.
 * A rule with an answer and a delay fires both together.
 */
#ifndef SMTPSINK_FAULT_RULES_H
#define SMTPSINK_FAULT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_cmd.h"
#include "smtp_view.h"

enum fault_stage {
	FAULT_STAGE_CONNECT,
	FAULT_STAGE_HELO,
	FAULT_STAGE_MAIL,
	FAULT_STAGE_RCPT,
	FAULT_STAGE_DATA,
	FAULT_STAGE_BDAT,
	FAULT_STAGE_CONTENT,
	FAULT_STAGE_DOT,
	FAULT_STAGE_RSET,
	FAULT_STAGE_NOOP,
	FAULT_STAGE_QUIT,
	FAULT_STAGE_VRFY,
	FAULT_STAGE_AUTH,
	FAULT_STAGE_TLS,
	FAULT_STAGE_ANY,
	FAULT_STAGE_COUNT,
	FAULT_STAGE_NONE = FAULT_STAGE_COUNT, /* a verb no stage names */
};

/* The stage of a command verb, from its registry row (smtp_verbs.c):
 * HELO/EHLO/LHLO: helo; AUTH and its continuation lines: auth; EXPN, HELP,
 * STARTTLS, unknown: FAULT_STAGE_NONE, reached only by "any" rules.  A command is decided against its own
 * stage's rules, then, if none fired, the "any" rules. */
enum fault_stage fault_stage_of_verb(enum smtp_verb verb);
const char *fault_stage_name(enum fault_stage st);

enum fault_answer {
	FAULT_ANSWER_NONE, /* delay only */
	FAULT_ANSWER_REPLY,
	FAULT_ANSWER_CLOSE, /* reply, then disconnect */
	FAULT_ANSWER_DISCONNECT, /* no reply */
	FAULT_ANSWER_FAIL, /* tls only: the handshake fails (a TLS alert) */
};

/* What one decision came to. */
struct fault_action {
	int rule; /* index of the answering rule, or of the first delay rule
		     that fired; -1: nothing fired */
	enum fault_answer answer;
	uint16_t code; /* REPLY, CLOSE */
	const char *text; /* "x.y.z words", NUL-terminated, owned by the rule
			     set (CLOSE without text: NULL, the engine says
			     "4.7.0 <host> Service not available, closing
			     transmission channel") */
	uint32_t delay_ms; /* total of the delays that fired */
};

/* Who is asking, for client= and domain= (views valid during the call). */
struct fault_subject {
	uint8_t family; /* 4, 6, 0 (unix) */
	const uint8_t *addr; /* 4 or 16 bytes; NULL for unix */
	struct smtp_view domain; /* mail/rcpt: the address's domain; else empty */
};

struct fault_rules;

/* An empty set.  NULL: out of memory. */
struct fault_rules *fault_rules_new(void);
void fault_rules_free(struct fault_rules *r);

/* Add one rule (text NUL-terminated).  Returns true, or false with a
 * one-line reason in err ("rcpt:reply=650 x: reply code must be 200..599"). */
bool fault_rules_add(struct fault_rules *r, const char *text, char *err, size_t err_len);

/* Add every rule of a rules file image: one rule per line; blank lines and
 * lines whose first non-blank byte is '#' are skipped; leading and trailing
 * blanks are trimmed.  On error err says "NAME:LINE: reason" and nothing
 * from this file stays added (r is as before the call). */
bool fault_rules_add_file(struct fault_rules *r, const char *name, const char *text, size_t len, char *err,
			  size_t err_len);

uint32_t fault_rules_count(const struct fault_rules *r);
/* Rule i in canonical form ("rcpt:reply=550 5.1.1 No such user:p=0.1"). */
const char *fault_rules_text(const struct fault_rules *r, uint32_t i);
/* Does any rule exist for this stage (so the engine can skip the work)? */
bool fault_rules_has_stage(const struct fault_rules *r, enum fault_stage st);

/* A session's generator state from --seed, the shard and the session's
 * ordinal in its shard: distinct sessions draw independent sequences, and
 * the same seed replays the same choices. Never 0. */
uint64_t fault_rng_seed(uint64_t seed, uint32_t shard, uint64_t ordinal);
/* Next 64 random bits (xorshift64*), and a uniform double in [0,1). */
uint64_t fault_rng_next(uint64_t *state);
double fault_rng_unit(uint64_t *state);

/* Decide for stage st.  r may be NULL (no rules).  Fills *act (rule -1 and
 * answer NONE, delay 0 when nothing fired); returns true if anything fired.
 * Draws from *rng only for rules that match (so adding a rule for another
 * stage does not change the choices of this one). */
bool fault_decide(const struct fault_rules *r, enum fault_stage st, const struct fault_subject *who, uint64_t *rng,
		  struct fault_action *act);

/* Recipient outcomes (on unless --no-recipient-outcomes): the local part
 * of a RCPT address picks the reply.  Case-insensitive, and the keyword may
 * be followed by '+', '-' or '.' and anything ("tempfail+1@x"):
 *   tempfail  -> 450 4.2.0 <addr>: Recipient address rejected: Temporary failure (test)
 *   permfail  -> 550 5.1.1 <addr>: Recipient address rejected: User unknown (test)
 *   NNN-...   -> NNN with a class-matching enhanced code x.0.0 and the text
 *                "<addr>: Recipient address rejected: NNN requested (test)"
 *                for NNN in 400..599 (2xx/3xx or other numbers: no outcome)
 * addr is the forward-path without <>.  Writes the text (without the code)
 * into buf (NUL-terminated, cut to fit) and returns the code, or returns 0
 * when the address asks for nothing. */
#define FAULT_OUTCOME_TEXT_MAX 400u
unsigned fault_rcpt_outcome(struct smtp_view addr, char *buf, size_t buf_len);

/* The domain of an address ("user@Example.COM" -> "Example.COM"; no '@':
 * empty). */
struct smtp_view fault_addr_domain(struct smtp_view addr);

#endif

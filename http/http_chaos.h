/*
 * http/http_chaos.h - Mailpit's chaos settings (GET|PUT /api/v1/chaos) as
 * the HTTP server hands them to whoever applies them (io/fault_live.c
 * turns them into fault rules).  Plain data; no other includes, so io/
 * can use it without the HTTP server's headers.
 */
#ifndef SMTPSINK_HTTP_CHAOS_H
#define SMTPSINK_HTTP_CHAOS_H

#include <stddef.h>

#define CHAOS_CODE_MIN 400 /* Mailpit: error codes 400..599 */
#define CHAOS_CODE_MAX 599
#define CHAOS_PROBABILITY_MAX 100 /* percent */

struct http_chaos_trigger {
	int error_code; /* 400..599 */
	int probability; /* 0..100 percent; 0: off */
};

/* Mailpit's three triggers: MAIL FROM, RCPT TO, AUTH. */
struct http_chaos_triggers {
	struct http_chaos_trigger sender, recipient, authentication;
};

struct http_chaos_ops {
	/* the triggers in force */
	void (*get)(void *arg, struct http_chaos_triggers *t);
	/* put t in force (checked already): 0, or -errno with a reason in err */
	int (*set)(void *arg, const struct http_chaos_triggers *t, char *err, size_t err_len);
	void *arg;
};

#endif

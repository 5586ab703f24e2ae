/*
 * http/api_chaos.c - GET|PUT /api/v1/chaos: Mailpit's chaos triggers
 * (Sender, Recipient, Authentication, each {ErrorCode, Probability}).
 *
 * Owns: their JSON both ways and Mailpit's checks (codes 400..599,
 * probabilities 0..100, a missing ErrorCode takes Mailpit's default, a
 * missing trigger is off).  Applying them is the server's
 * (http_chaos_ops: io/fault_live.c turns them into fault rules published
 * to the shards without a lock on their path).
 */
#include <jansson.h>
#include <string.h>

#include "http_int.h"

static const char *const chaos_keys[3] = { "Sender", "Recipient", "Authentication" };
static const int chaos_default_codes[3] = { 451, 451, 535 };

static struct http_chaos_trigger *trigger(struct http_chaos_triggers *t, int i)
{
	return i == 0 ? &t->sender : i == 1 ? &t->recipient : &t->authentication;
}

static enum MHD_Result reply_triggers(struct http_req *r)
{
	struct http_chaos_triggers t;
	r->srv->cfg.chaos.get(r->srv->cfg.chaos.arg, &t);
	struct json_buf b = { 0 };
	json_buf_lit(&b, "{");
	for (int i = 0; i < 3; i++) {
		json_buf_key(&b, chaos_keys[i], i == 0);
		json_buf_lit(&b, "{\"ErrorCode\":");
		json_buf_i64(&b, trigger(&t, i)->error_code);
		json_buf_lit(&b, ",\"Probability\":");
		json_buf_i64(&b, trigger(&t, i)->probability);
		json_buf_lit(&b, "}");
	}
	json_buf_lit(&b, "}");
	return http_reply_json(r, MHD_HTTP_OK, &b);
}

enum MHD_Result api_chaos_get(struct http_req *r)
{
	if (r->srv->cfg.chaos.get == NULL)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "Chaos is not enabled");
	return reply_triggers(r);
}

/* One trigger from the body; NULL, or what is wrong with it. */
static const char *read_trigger(json_t *root, int i, struct http_chaos_trigger *t)
{
	json_t *o = json_object_get(root, chaos_keys[i]);
	t->error_code = chaos_default_codes[i];
	t->probability = 0;
	if (o == NULL || json_is_null(o))
		return NULL;
	json_t *code = json_object_get(o, "ErrorCode"), *p = json_object_get(o, "Probability");
	if (!json_is_object(o) || (code != NULL && !json_is_integer(code)) || (p != NULL && !json_is_integer(p)))
		return "a trigger is {\"ErrorCode\":int,\"Probability\":int}";
	json_int_t c = code != NULL ? json_integer_value(code) : 0, pr = p != NULL ? json_integer_value(p) : 0;
	if (c != 0 && (c < CHAOS_CODE_MIN || c > CHAOS_CODE_MAX))
		return "error code must be between 400 and 599";
	if (pr < 0 || pr > CHAOS_PROBABILITY_MAX)
		return "probability must be between 0 and 100";
	t->error_code = c != 0 ? (int)c : chaos_default_codes[i];
	t->probability = (int)pr;
	return NULL;
}

enum MHD_Result api_chaos_set(struct http_req *r)
{
	if (r->srv->cfg.chaos.set == NULL)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "Chaos is not enabled");
	json_error_t jerr;
	json_t *root = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		json_decref(root);
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object");
	}
	struct http_chaos_triggers t;
	const char *why = NULL;
	for (int i = 0; i < 3 && why == NULL; i++)
		why = read_trigger(root, i, trigger(&t, i));
	json_decref(root);
	if (why != NULL)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	char err[256];
	if (r->srv->cfg.chaos.set(r->srv->cfg.chaos.arg, &t, err, sizeof err) != 0)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", err);
	return reply_triggers(r);
}

/*
 * core/smtp_params.c - MAIL/RCPT parameter semantics (see smtp_params.h).
 *
 * Owns: one handler per known keyword, looked up in a table; each either
 * fills the parsed struct or names the refusal.  Invariant: a refusal's tail
 * only ever echoes a keyword, which smtp_addr has restricted to [A-Za-z0-9-].
 */
#include "smtp_params.h"

#include "smtp_addr.h"
#include "smtp_config.h"
#include "smtp_limits.h"

static const char bad_syntax[] = "5.5.4 Error: bad parameter syntax";
static const char unsupported[] = "5.5.4 Unsupported option: ";

/* An echoed keyword is cut so the reply stays one short line. */
#define ECHO_MAX_BYTES 64u

static bool refuse(struct smtp_reply_spec *r, uint16_t code, const char *text, struct smtp_view tail)
{
	r->code = code;
	r->text = text;
	r->tail = tail;
	if (r->tail.len > ECHO_MAX_BYTES)
		r->tail.len = ECHO_MAX_BYTES;
	return false;
}

static bool refuse501(struct smtp_reply_spec *r, const char *text)
{
	return refuse(r, 501, text, smtp_view_make("", 0));
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool smtp_params_xtext_ok(struct smtp_view v)
{
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = v.ptr[i];
		if (c == '+') {
			if (v.len - i < 3 || hexval(v.ptr[i + 1]) < 0 || hexval(v.ptr[i + 2]) < 0)
				return false;
			int d = hexval(v.ptr[i + 1]) * 16 + hexval(v.ptr[i + 2]);
			if (d < 0x20 || d > 0x7E)
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

enum size_parse {
	SIZE_OK,
	SIZE_BAD,
	SIZE_HUGE
};

/* RFC 1870: SIZE=1*20DIGIT; parsed without wrapping.  All digits but too
 * many for 64 bits is HUGE (refused as too big, never wrapped). */
static enum size_parse parse_size(struct smtp_view v, uint64_t *out)
{
	uint64_t n = 0;
	bool huge = false;
	if (v.len == 0)
		return SIZE_BAD;
	for (size_t i = 0; i < v.len; i++) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return SIZE_BAD;
		uint64_t d = (uint64_t)(v.ptr[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			huge = true;
		else
			n = n * 10 + d;
	}
	*out = n;
	return huge ? SIZE_HUGE : SIZE_OK;
}

struct mail_ctx {
	struct smtp_mail_params *mp;
	uint32_t ext;
	uint64_t max_size_bytes;
	struct smtp_reply_spec *r;
};

static bool mail_size(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	uint64_t n = 0;
	enum size_parse p = has_value ? parse_size(v, &n) : SIZE_BAD;
	if (p == SIZE_BAD)
		return refuse501(c->r, "5.5.4 Bad message size syntax");
	if (p == SIZE_HUGE || (c->max_size_bytes != 0 && n > c->max_size_bytes))
		return refuse(c->r, 552, "5.3.4 Message size exceeds fixed limit", smtp_view_make("", 0));
	c->mp->size_bytes = n;
	return true;
}

static bool mail_body(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	if (has_value && smtp_view_eq_nocase(v, "7BIT"))
		c->mp->body = SMTP_BODY_7BIT;
	else if (has_value && smtp_view_eq_nocase(v, "8BITMIME") && (c->ext & SMTP_EXT_8BITMIME))
		c->mp->body = SMTP_BODY_8BITMIME;
	else if (has_value && smtp_view_eq_nocase(v, "BINARYMIME") && (c->ext & SMTP_EXT_CHUNKING))
		c->mp->body = SMTP_BODY_BINARYMIME;
	else
		return refuse501(c->r, "5.5.4 Bad BODY keyword");
	return true;
}

static bool mail_smtputf8(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	if (has_value)
		return refuse501(c->r, "5.5.4 Bad SMTPUTF8 parameter");
	c->mp->smtputf8 = true;
	return true;
}

static bool mail_auth(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	bool null_identity = v.len == 2 && v.ptr[0] == '<' && v.ptr[1] == '>';
	if (!has_value || v.len == 0 || (!null_identity && !smtp_params_xtext_ok(v)))
		return refuse501(c->r, "5.5.4 Bad AUTH parameter syntax");
	c->mp->auth = v;
	return true;
}

static bool mail_ret(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	if (has_value && smtp_view_eq_nocase(v, "FULL"))
		c->mp->ret = SMTP_RET_FULL;
	else if (has_value && smtp_view_eq_nocase(v, "HDRS"))
		c->mp->ret = SMTP_RET_HDRS;
	else
		return refuse501(c->r, "5.5.4 Bad RET parameter syntax");
	return true;
}

static bool mail_envid(struct mail_ctx *c, struct smtp_view v, bool has_value)
{
	if (!has_value || v.len == 0 || v.len > SMTP_ENVID_MAX_BYTES || !smtp_params_xtext_ok(v))
		return refuse501(c->r, "5.5.4 Bad ENVID parameter syntax");
	c->mp->envid = v;
	return true;
}

struct mail_param {
	const char *key;
	uint32_t needs_ext;
	bool (*handle)(struct mail_ctx *c, struct smtp_view v, bool has_value);
};

static const struct mail_param mail_params[] = {
	{ "SIZE", SMTP_EXT_SIZE, mail_size },
	{ "BODY", 0, mail_body },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8, mail_smtputf8 },
	{ "AUTH", SMTP_EXT_AUTH, mail_auth },
	{ "RET", SMTP_EXT_DSN, mail_ret },
	{ "ENVID", SMTP_EXT_DSN, mail_envid },
};
#define MAIL_PARAM_COUNT (sizeof mail_params / sizeof mail_params[0])

bool smtp_params_mail(struct smtp_view params, uint32_t ext, uint64_t max_size_bytes, struct smtp_mail_params *mp,
		      struct smtp_reply_spec *refusal)
{
	struct mail_ctx c = { mp, ext, max_size_bytes, refusal };
	struct smtp_view key, value;
	bool has_value;
	uint32_t seen = 0;
	*mp = (struct smtp_mail_params){ 0 };
	for (;;) {
		enum smtp_param_next n = smtp_addr_next_param(&params, &key, &value, &has_value);
		if (n == SMTP_PARAM_END)
			return true;
		if (n == SMTP_PARAM_BAD)
			return refuse501(refusal, bad_syntax);
		size_t i = 0;
		while (i < MAIL_PARAM_COUNT && !smtp_view_eq_nocase(key, mail_params[i].key))
			i++;
		if (i == MAIL_PARAM_COUNT || (mail_params[i].needs_ext & ~ext) != 0)
			return refuse(refusal, 555, unsupported, key);
		if (seen & (1u << i))
			return refuse501(refusal, "5.5.4 Error: duplicate parameter");
		seen |= 1u << i;
		if (!mail_params[i].handle(&c, value, has_value))
			return false;
	}
}

/* RFC 3461 4.1: NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY. */
static bool parse_notify(struct smtp_view v, uint8_t *bits)
{
	static const char *const names[] = { "NEVER", "SUCCESS", "FAILURE", "DELAY" };
	size_t i = 0;
	*bits = 0;
	while (i <= v.len) {
		size_t j = i;
		while (j < v.len && v.ptr[j] != ',')
			j++;
		struct smtp_view word = smtp_view_make(v.ptr + i, j - i);
		size_t k = 0;
		while (k < 4 && !smtp_view_eq_nocase(word, names[k]))
			k++;
		if (k == 4 || (*bits & (1u << k)))
			return false;
		*bits = (uint8_t)(*bits | (1u << k));
		i = j + 1;
	}
	return !((*bits & SMTP_NOTIFY_NEVER) && (*bits & ~SMTP_NOTIFY_NEVER));
}

/* RFC 3461 4.2: ORCPT=addr-type;xtext (utf-8 type: RFC 6533 utf-8-addr). */
static bool orcpt_ok(struct smtp_view v)
{
	size_t i = 0;
	while (i < v.len && v.ptr[i] != ';') {
		uint8_t c = v.ptr[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		i++;
	}
	if (i == 0 || i + 1 >= v.len)
		return false;
	struct smtp_view rest = smtp_view_make(v.ptr + i + 1, v.len - i - 1);
	if (smtp_view_eq_nocase(smtp_view_make(v.ptr, i), "utf-8")) {
		for (size_t k = 0; k < rest.len; k++)
			if (rest.ptr[k] < 0x21 || rest.ptr[k] == 0x7F)
				return false;
		return true;
	}
	return smtp_params_xtext_ok(rest);
}

bool smtp_params_rcpt(struct smtp_view params, uint32_t ext, struct smtp_rcpt_params *rp,
		      struct smtp_reply_spec *refusal)
{
	struct smtp_view key, value;
	bool has_value, seen_notify = false, seen_orcpt = false;
	*rp = (struct smtp_rcpt_params){ 0 };
	for (;;) {
		enum smtp_param_next n = smtp_addr_next_param(&params, &key, &value, &has_value);
		if (n == SMTP_PARAM_END)
			return true;
		if (n == SMTP_PARAM_BAD)
			return refuse501(refusal, bad_syntax);
		bool dsn = (ext & SMTP_EXT_DSN) != 0;
		if (dsn && smtp_view_eq_nocase(key, "NOTIFY")) {
			if (seen_notify || !has_value || !parse_notify(value, &rp->notify))
				return refuse501(refusal, "5.5.4 Bad NOTIFY parameter syntax");
			seen_notify = true;
		} else if (dsn && smtp_view_eq_nocase(key, "ORCPT")) {
			if (seen_orcpt || !has_value || !orcpt_ok(value))
				return refuse501(refusal, "5.5.4 Bad ORCPT parameter syntax");
			rp->orcpt = value;
			seen_orcpt = true;
		} else {
			return refuse(refusal, 555, unsupported, key);
		}
	}
}

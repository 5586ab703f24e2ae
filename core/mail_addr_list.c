/*
 * core/mail_addr_list.c - splitting an address-list header value into
 * mailboxes (mail_addr_list.h).
 *
 * One element (up to a top-level ',' or ';') is read character by
 * character into three buffers: the phrase (display name: quoted strings
 * unquoted, blanks collapsed), the angle address ("<...>", the route
 * before its last ':' dropped) and the bare text (everything outside
 * comments without blanks, quotes kept: the addr-spec when there is no
 * angle address).  Comments and quoted strings are consumed whole, so the
 * separators inside them are text.  A top-level ':' outside brackets
 * starts a group: what came before it is the group's name, dropped.
 * Invariant: every buffer stays NUL-terminated within its size.
 */
#include "mail_addr_list.h"

#include <string.h>

#define ADDR_COMMENT_MAX_BYTES MAIL_ADDR_NAME_MAX_BYTES

/* A bounded string being built. */
struct addr_buf {
	char *p;
	size_t len, cap;
	bool space; /* a blank is pending before the next character */
};

/* The element being read. */
struct addr_elem {
	struct addr_buf phrase, angle, bare, comment;
	bool angle_seen;
	char comment_text[ADDR_COMMENT_MAX_BYTES];
	char bare_text[MAIL_ADDR_ADDRESS_MAX_BYTES];
};

static void addr_buf_init(struct addr_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->space = false;
	p[0] = '\0';
}

static void addr_buf_put(struct addr_buf *b, char c)
{
	if (b->space && b->len > 0 && b->len + 1 < b->cap)
		b->p[b->len++] = ' ';
	b->space = false;
	if (b->len + 1 < b->cap)
		b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static bool addr_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A quoted string from v[*i] (the opening quote) into b (unquoted), and
 * raw (quotes kept) into raw when not NULL. */
static void addr_quoted(const char *v, size_t len, size_t *i, struct addr_buf *b, struct addr_buf *raw)
{
	if (raw != NULL)
		addr_buf_put(raw, '"');
	for ((*i)++; *i < len && v[*i] != '"'; (*i)++) {
		if (v[*i] == '\\' && *i + 1 < len)
			(*i)++;
		if (addr_blank(v[*i]))
			b->space = true;
		else
			addr_buf_put(b, v[*i]);
		if (raw != NULL)
			addr_buf_put(raw, v[*i] == '\t' || v[*i] == '\r' || v[*i] == '\n' ? ' ' : v[*i]);
	}
	if (raw != NULL)
		addr_buf_put(raw, '"');
	*i += *i < len; /* the closing quote */
}

/* A comment from v[*i] (its '(') into b, nested comments included. */
static void addr_comment(const char *v, size_t len, size_t *i, struct addr_buf *b)
{
	unsigned depth = 0;
	addr_buf_init(b, b->p, b->cap);
	for (; *i < len; (*i)++) {
		char c = v[*i];
		if (c == '\\' && *i + 1 < len) {
			addr_buf_put(b, v[++(*i)]);
			continue;
		}
		if (c == '(' && depth++ == 0)
			continue;
		if (c == ')' && --depth == 0) {
			(*i)++;
			return;
		}
		if (addr_blank(c))
			b->space = true;
		else
			addr_buf_put(b, c);
	}
}

/* An angle address from v[*i] (its '<') to its '>'. */
static void addr_angle(const char *v, size_t len, size_t *i, struct addr_elem *e)
{
	e->angle_seen = true;
	addr_buf_init(&e->angle, e->angle.p, e->angle.cap);
	for ((*i)++; *i < len && v[*i] != '>'; (*i)++) {
		if (v[*i] == '"') {
			char scratch[MAIL_ADDR_ADDRESS_MAX_BYTES];
			struct addr_buf skip; /* only the raw copy into angle is kept */
			addr_buf_init(&skip, scratch, sizeof scratch);
			addr_quoted(v, len, i, &skip, &e->angle);
			(*i)--;
		} else if (v[*i] == ':') {
			addr_buf_init(&e->angle, e->angle.p, e->angle.cap); /* obs-route "@a,@b:" */
		} else if (!addr_blank(v[*i])) {
			addr_buf_put(&e->angle, v[*i]);
		}
	}
	*i += *i < len; /* the '>' */
}

static void addr_elem_init(struct addr_elem *e, struct mail_addr *out)
{
	addr_buf_init(&e->phrase, out->name, sizeof out->name);
	addr_buf_init(&e->angle, out->address, sizeof out->address);
	addr_buf_init(&e->bare, e->bare_text, sizeof e->bare_text);
	addr_buf_init(&e->comment, e->comment_text, sizeof e->comment_text);
	e->angle_seen = false;
}

/* A character of the phrase outside quotes: also bare addr-spec text. */
static void addr_elem_word(struct addr_elem *e, char c)
{
	addr_buf_put(&e->phrase, c);
	addr_buf_put(&e->bare, c);
}

/* The mailbox of a finished element into out: true if it names one. */
static bool addr_elem_finish(struct addr_elem *e, struct mail_addr *out)
{
	if (e->angle_seen)
		return e->angle.len > 0 || e->phrase.len > 0;
	if (e->bare.len == 0)
		return false;
	memcpy(out->address, e->bare_text, e->bare.len + 1);
	memcpy(out->name, e->comment_text, e->comment.len + 1);
	return true;
}

bool mail_addr_list_next(const char *value, size_t len, size_t *pos, struct mail_addr *out)
{
	struct addr_elem e;
	size_t i = *pos;
	while (i < len) {
		addr_elem_init(&e, out);
		while (i < len && value[i] != ',' && value[i] != ';') {
			char c = value[i];
			if (c == '"') {
				addr_quoted(value, len, &i, &e.phrase, &e.bare);
			} else if (c == '(') {
				addr_comment(value, len, &i, &e.comment);
				e.phrase.space = true;
			} else if (c == '<') {
				addr_angle(value, len, &i, &e);
			} else if (c == ':' && !e.angle_seen) {
				addr_elem_init(&e, out); /* a group's name */
				i++;
			} else {
				if (addr_blank(c))
					e.phrase.space = true;
				else if (!e.angle_seen)
					addr_elem_word(&e, c);
				i++;
			}
		}
		i += i < len; /* the separator */
		if (addr_elem_finish(&e, out)) {
			*pos = i;
			return true;
		}
	}
	*pos = i;
	return false;
}

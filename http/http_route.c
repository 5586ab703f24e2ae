/*
 * http/http_route.c - matching a request to an endpoint (http_route.h).
 *
 * A pattern is a '/'-separated list of segments; a segment is literal
 * text, or a parameter {id} (a message ID or "latest"), {sid} (an ID,
 * never "latest"), {part} (a part ID), optionally followed by a literal
 * suffix ("{id}.html").  Paths are matched segment by segment, so a
 * segment never spans a '/'.
 * Workload: one match per request over a table of ~20 rows.
 */
#include "http_route.h"

#include <string.h>

struct route_row {
	const char *method;
	const char *pattern;
	enum http_endpoint ep;
};

static const struct route_row route_rows[] = {
	{ "GET", "/livez", EP_LIVEZ },
	{ "GET", "/readyz", EP_READYZ },
	{ "GET", "/api/v1/info", EP_INFO },
	{ "GET", "/api/v1/messages", EP_MESSAGES_LIST },
	{ "PUT", "/api/v1/messages", EP_MESSAGES_READ },
	{ "DELETE", "/api/v1/messages", EP_MESSAGES_DELETE },
	{ "GET", "/api/v1/search", EP_SEARCH },
	{ "DELETE", "/api/v1/search", EP_SEARCH_DELETE },
	{ "GET", "/api/v1/message/{id}", EP_MESSAGE },
	{ "GET", "/api/v1/message/{id}/headers", EP_MESSAGE_HEADERS },
	{ "GET", "/api/v1/message/{id}/raw", EP_MESSAGE_RAW },
	{ "GET", "/api/v1/message/{id}/part/{part}", EP_MESSAGE_PART },
	{ "GET", "/api/v1/tags", EP_TAGS },
	{ "PUT", "/api/v1/tags", EP_TAGS_SET },
	{ "GET", "/api/v1/webui", EP_WEBUI },
	{ "GET", "/api/v1/wait", EP_WAIT },
	{ "GET", "/api/events", EP_EVENTS },
	{ "GET", "/api/v1/chaos", EP_CHAOS_GET },
	{ "PUT", "/api/v1/chaos", EP_CHAOS_SET },
	{ "GET", "/view/{id}.html", EP_VIEW_HTML },
	{ "GET", "/view/{id}.txt", EP_VIEW_TEXT },
	{ "GET", "/api/v1/session/{sid}", EP_SESSION },
	{ "GET", "/metrics", EP_METRICS },
};

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool http_route_valid_id(const char *s, size_t n, bool latest_ok)
{
	if (latest_ok && n == 6 && memcmp(s, "latest", 6) == 0)
		return true;
	if (n == 0 || n > HTTP_ROUTE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]))
			return false;
	return true;
}

bool http_route_valid_part(const char *s, size_t n)
{
	if (n == 0 || n > HTTP_ROUTE_PART_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		bool digit = s[i] >= '0' && s[i] <= '9';
		if (!digit && (s[i] != '.' || s[i + 1] == '.'))
			return false;
	}
	return true;
}

enum seg_result {
	SEG_NO,
	SEG_YES,
	SEG_BAD_PARAM
};

/* One path segment p[0, pn) against one pattern segment t[0, tn). */
static enum seg_result seg_match(const char *t, size_t tn, const char *p, size_t pn, struct http_route *r)
{
	if (tn == 0 || t[0] != '{')
		return tn == pn && memcmp(t, p, pn) == 0 ? SEG_YES : SEG_NO;
	const char *close = memchr(t, '}', tn);
	size_t name_len = (size_t)(close - t) + 1, suffix_len = tn - name_len;
	if (pn < suffix_len || memcmp(p + pn - suffix_len, close + 1, suffix_len) != 0)
		return SEG_NO;
	size_t vn = pn - suffix_len;
	bool part = name_len == 6 && memcmp(t, "{part}", 6) == 0;
	bool ok = part ? http_route_valid_part(p, vn) : http_route_valid_id(p, vn, t[1] == 'i');
	if (!ok)
		return SEG_BAD_PARAM;
	char *dst = part ? r->part : r->id;
	memcpy(dst, p, vn);
	dst[vn] = '\0';
	return SEG_YES;
}

/* The path against one pattern: SEG_YES, SEG_NO or SEG_BAD_PARAM. */
static enum seg_result path_match(const char *pattern, const char *path, struct http_route *r)
{
	enum seg_result worst = SEG_YES;
	const char *t = pattern, *p = path;
	while (*t == '/' && *p == '/') {
		t++;
		p++;
		size_t tn = strcspn(t, "/"), pn = strcspn(p, "/");
		enum seg_result s = seg_match(t, tn, p, pn, r);
		if (s == SEG_NO)
			return SEG_NO;
		if (s == SEG_BAD_PARAM)
			worst = SEG_BAD_PARAM;
		t += tn;
		p += pn;
	}
	return *t == '\0' && *p == '\0' ? worst : SEG_NO;
}

enum http_route_status http_route_match(const char *method, const char *path, struct http_route *r)
{
	enum http_route_status st = HTTP_ROUTE_NOT_FOUND;
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	memset(r, 0, sizeof *r);
	r->api = strncmp(path, "/api/", 5) == 0;
	for (size_t i = 0; i < sizeof route_rows / sizeof route_rows[0]; i++) {
		const struct route_row *row = &route_rows[i];
		enum seg_result s = path_match(row->pattern, path, r);
		if (s == SEG_NO)
			continue;
		if (s == SEG_BAD_PARAM) {
			st = HTTP_ROUTE_BAD_ID;
			continue;
		}
		if (strcmp(row->method, method) != 0) {
			st = st == HTTP_ROUTE_NOT_FOUND ? HTTP_ROUTE_BAD_METHOD : st;
			continue;
		}
		r->ep = row->ep;
		r->open = row->ep == EP_LIVEZ || row->ep == EP_READYZ;
		return HTTP_ROUTE_OK;
	}
	return st;
}

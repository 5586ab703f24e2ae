/*
 * tests/http/test_http_route.c - the API's route table and path
 * parameter rules (http/http_route.c).
 *
 * Owns: every endpoint reached by its method and path, HEAD as GET, 405
 * for a known path with another method, 404 for unknown paths (trailing
 * slash, prefix, extra segment), and IDs checked before any lookup: path
 * traversal, separators, over-long and non-alphanumeric IDs, bad part IDs
 * (the limits at max-1, max, max+1).
 */
#include <stdio.h>
#include <string.h>

#include "http_route.h"
#include "session_harness.h"

struct route_row {
	const char *method, *path;
	enum http_route_status st;
	enum http_endpoint ep;
	const char *id, *part;
};

static const struct route_row rows[] = {
	{ "GET", "/livez", HTTP_ROUTE_OK, EP_LIVEZ, "", "" },
	{ "GET", "/readyz", HTTP_ROUTE_OK, EP_READYZ, "", "" },
	{ "GET", "/api/v1/info", HTTP_ROUTE_OK, EP_INFO, "", "" },
	{ "GET", "/api/v1/messages", HTTP_ROUTE_OK, EP_MESSAGES_LIST, "", "" },
	{ "HEAD", "/api/v1/messages", HTTP_ROUTE_OK, EP_MESSAGES_LIST, "", "" },
	{ "PUT", "/api/v1/messages", HTTP_ROUTE_OK, EP_MESSAGES_READ, "", "" },
	{ "DELETE", "/api/v1/messages", HTTP_ROUTE_OK, EP_MESSAGES_DELETE, "", "" },
	{ "POST", "/api/v1/messages", HTTP_ROUTE_BAD_METHOD, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/search", HTTP_ROUTE_OK, EP_SEARCH, "", "" },
	{ "DELETE", "/api/v1/search", HTTP_ROUTE_OK, EP_SEARCH_DELETE, "", "" },
	{ "GET", "/api/v1/message/latest", HTTP_ROUTE_OK, EP_MESSAGE, "latest", "" },
	{ "GET", "/api/v1/message/0AbCdEfGhIjKlM", HTTP_ROUTE_OK, EP_MESSAGE, "0AbCdEfGhIjKlM", "" },
	{ "GET", "/api/v1/message/0AbCdEfGhIjKlM/headers", HTTP_ROUTE_OK, EP_MESSAGE_HEADERS, "0AbCdEfGhIjKlM", "" },
	{ "GET", "/api/v1/message/latest/raw", HTTP_ROUTE_OK, EP_MESSAGE_RAW, "latest", "" },
	{ "GET", "/api/v1/message/abc/part/2.1", HTTP_ROUTE_OK, EP_MESSAGE_PART, "abc", "2.1" },
	{ "GET", "/api/v1/tags", HTTP_ROUTE_OK, EP_TAGS, "", "" },
	{ "PUT", "/api/v1/tags", HTTP_ROUTE_OK, EP_TAGS_SET, "", "" },
	{ "GET", "/api/v1/webui", HTTP_ROUTE_OK, EP_WEBUI, "", "" },
	{ "GET", "/api/v1/wait", HTTP_ROUTE_OK, EP_WAIT, "", "" },
	{ "GET", "/api/events", HTTP_ROUTE_OK, EP_EVENTS, "", "" },
	{ "GET", "/api/v1/chaos", HTTP_ROUTE_OK, EP_CHAOS_GET, "", "" },
	{ "PUT", "/api/v1/chaos", HTTP_ROUTE_OK, EP_CHAOS_SET, "", "" },
	{ "GET", "/view/abc.html", HTTP_ROUTE_OK, EP_VIEW_HTML, "abc", "" },
	{ "GET", "/view/latest.txt", HTTP_ROUTE_OK, EP_VIEW_TEXT, "latest", "" },
	{ "GET", "/api/v1/session/abc", HTTP_ROUTE_OK, EP_SESSION, "abc", "" },
	/* not found */
	{ "GET", "/api/v1/messages/", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/raw/x", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	{ "GET", "/view/abc.htm", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	{ "GET", "", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	{ "GET", "//livez", HTTP_ROUTE_NOT_FOUND, EP_LIVEZ, "", "" },
	/* IDs checked: traversal and other bytes never reach a lookup */
	{ "GET", "/api/v1/message/..", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/../raw", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/a.b", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/a%2e", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/view/...html", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/view/.html", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/part/..", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/part/1..2", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/part/.1", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/part/1.", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	{ "GET", "/api/v1/message/abc/part/x", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	/* ID length: max-1, max, max+1 */
	{ "GET", "/api/v1/message/012345678901234", HTTP_ROUTE_OK, EP_MESSAGE, "012345678901234", "" },
	{ "GET", "/api/v1/message/0123456789012345", HTTP_ROUTE_OK, EP_MESSAGE, "0123456789012345", "" },
	{ "GET", "/api/v1/message/01234567890123456", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
	/* a bad ID with a method the path does not have: still a bad ID */
	{ "PUT", "/api/v1/message/..", HTTP_ROUTE_BAD_ID, EP_LIVEZ, "", "" },
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct route_row *w = &rows[i];
		struct http_route r;
		enum http_route_status st = http_route_match(w->method, w->path, &r);
		bool ok = CHECK_U64(st, w->st);
		if (ok && st == HTTP_ROUTE_OK) {
			ok = CHECK_U64(r.ep, w->ep) && CHECK_STR(r.id, strlen(r.id), w->id) &&
			     CHECK_STR(r.part, strlen(r.part), w->part);
			ok = CHECK(r.open == (w->ep == EP_LIVEZ || w->ep == EP_READYZ)) && ok;
			ok = CHECK(r.api == (strncmp(w->path, "/api/", 5) == 0)) && ok;
		}
		if (!ok)
			fprintf(stderr, "  row %zu: %s %s\n", i, w->method, w->path);
	}
}

/* The part ID limit: max-1, max, max+1 characters. */
static void test_part_length(void)
{
	char part[HTTP_ROUTE_PART_MAX + 2];
	for (size_t n = HTTP_ROUTE_PART_MAX - 1; n <= HTTP_ROUTE_PART_MAX + 1; n++) {
		memset(part, '1', n);
		CHECK(http_route_valid_part(part, n) == (n <= HTTP_ROUTE_PART_MAX));
	}
	CHECK(!http_route_valid_part("", 0));
	CHECK(http_route_valid_part("10.20.3", 7));
}

/* Every byte outside [0-9A-Za-z] makes an ID invalid, wherever it is. */
static void test_id_bytes(void)
{
	for (int c = 0; c < 256; c++) {
		char id[4] = { 'a', (char)c, 'b', 0 };
		bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (!CHECK(http_route_valid_id(id, 3, false) == alnum))
			fprintf(stderr, "  byte %d\n", c);
	}
	CHECK(http_route_valid_id("latest", 6, true));
	CHECK(!http_route_valid_id("", 0, true));
}

int main(void)
{
	test_rows();
	test_part_length();
	test_id_bytes();
	return harness_finish("http_route");
}

/*
 * http/http_route.h - the table of the API's paths: which endpoint a
 * method and path name, with the IDs in the path checked.
 *
 * Owns: the route table (method, path pattern, endpoint) and the charset
 * rules for path parameters: a message ID is a queue ID (letters and
 * digits, at most MAIL_INDEX_QID_BYTES) or "latest"; a part ID is digits
 * separated by dots.  So "..", "/", "%2e" (unescaped by the daemon) and
 * any other byte never reach a lookup.  Pure: no I/O.
 */
#ifndef SMTPSINK_HTTP_ROUTE_H
#define SMTPSINK_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_ROUTE_ID_MAX 16u /* = MAIL_INDEX_QID_BYTES */
#define HTTP_ROUTE_PART_MAX 31u /* = sizeof mime_part.part_id - 1 */

enum http_endpoint {
	EP_LIVEZ,
	EP_READYZ,
	EP_INFO,
	EP_MESSAGES_LIST,
	EP_MESSAGES_READ,
	EP_MESSAGES_DELETE,
	EP_SEARCH,
	EP_SEARCH_DELETE,
	EP_MESSAGE,
	EP_MESSAGE_HEADERS,
	EP_MESSAGE_RAW,
	EP_MESSAGE_PART,
	EP_TAGS,
	EP_TAGS_SET,
	EP_WEBUI,
	EP_WAIT,
	EP_EVENTS,
	EP_CHAOS_GET,
	EP_CHAOS_SET,
	EP_VIEW_HTML,
	EP_VIEW_TEXT,
	EP_SESSION,
	EP_METRICS,
	EP_COUNT
};

enum http_route_status {
	HTTP_ROUTE_OK,
	HTTP_ROUTE_NOT_FOUND, /* no such path */
	HTTP_ROUTE_BAD_METHOD, /* the path exists with other methods: 405 */
	HTTP_ROUTE_BAD_ID, /* the path's shape matched, a parameter is not an ID: 400 */
};

struct http_route {
	enum http_endpoint ep;
	char id[HTTP_ROUTE_ID_MAX + 1]; /* message or session ID, "" if none */
	char part[HTTP_ROUTE_PART_MAX + 1]; /* part ID, "" if none */
	bool api; /* under /api/: errors are JSON */
	bool open; /* served without auth (/livez, /readyz) */
};

/* Route method (HEAD is GET) and path (without the query string). */
enum http_route_status http_route_match(const char *method, const char *path, struct http_route *r);

/* Letters and digits, 1..HTTP_ROUTE_ID_MAX, or "latest" when latest_ok. */
bool http_route_valid_id(const char *s, size_t n, bool latest_ok);
/* "1", "2.1", ...: digit runs separated by single dots. */
bool http_route_valid_part(const char *s, size_t n);

#endif

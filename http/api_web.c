/*
 * http/api_web.c - the web page's files (http/web/, embedded at build
 * time) at their paths: "/" is index.html.
 *
 * Owns: answering a GET for an embedded file with its type, its ETag (a
 * matching If-None-Match gets 304 without the bytes) and a
 * Content-Security-Policy for the page: its own scripts, styles and API
 * only, captured mail only inside a frame of /view/ (which has its own,
 * stricter policy), and never framed by another site.  The files are read-only
 * data: sent without a copy.
 */
#include <string.h>

#include "http_int.h"
#include "web_assets.h"

#define WEB_CSP                                                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/* A GET the route table does not know: a web file, or NULL. */
const void *api_web_find(const char *path)
{
	return web_asset_find(path);
}

enum MHD_Result api_web(struct http_req *r, const void *found)
{
	const struct web_asset *a = found;
	const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool fresh = inm != NULL && strcmp(inm, a->etag) == 0;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(fresh ? 0 : a->length, (void *)a->bytes, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", a->content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	return http_reply_queue(r, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}

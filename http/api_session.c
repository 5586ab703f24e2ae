/*
 * http/api_session.c - GET /api/v1/session/{ID}: one session report from
 * the spool (commands, transactions, gaps, quirks), as the object
 * `smtpsink-spool session ID --json` prints.
 *
 * Owns: only the HTTP side.  Finding and decoding the record is
 * tools/spool's session_find, its JSON is session_out_json (written into
 * memory through open_memstream), so the tool and the API give the same
 * object.  Read straight from the spool: session reports are not indexed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "session_find.h"

enum MHD_Result api_session(struct http_req *r)
{
	if (r->srv->cfg.spool_path == NULL)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no spool: sessions are not kept (--discard)");
	struct spool_dir d;
	int e = spool_dir_open(&d, r->srv->cfg.spool_path);
	if (e != 0)
		return http_reply_errno(r, e, "spool");
	struct session_view *v = malloc(sizeof *v);
	const char *why = "out of memory";
	struct seg_reader sr;
	int rc = v != NULL ? session_find(&d, r->route.id, v, &sr, &why) : -ENOMEM;
	char *text = NULL;
	size_t len = 0;
	if (rc == SESSION_FOUND) {
		FILE *f = open_memstream(&text, &len);
		if (f != NULL)
			session_out_json(f, v);
		if (f == NULL || fclose(f) != 0)
			rc = -ENOMEM;
		seg_reader_close(&sr); /* the view's texts were in the record */
	}
	spool_dir_close(&d);
	free(v);
	switch (rc) {
	case SESSION_FOUND:
		return text != NULL ? http_reply_bytes(r, MHD_HTTP_OK, "application/json", text, len) : MHD_NO;
	case SESSION_BAD_ID:
	case SESSION_NOT_FOUND:
	case SESSION_IS_MESSAGE:
		free(text);
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no session %s%s", r->route.id,
					rc == SESSION_IS_MESSAGE ? " (it is a message)" : "");
	case SESSION_DAMAGED:
		free(text);
		return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "session %s: %s", r->route.id, why);
	default:
		free(text);
		return http_reply_errno(r, rc, "session");
	}
}

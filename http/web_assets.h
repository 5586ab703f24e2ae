/*
 * http/web_assets.h - the web page's files (http/web/), compiled into the
 * binary.
 *
 * Owns: looking up one embedded file by its URL path, with what an HTTP
 * answer needs: the bytes, their length, the Content-Type and a strong ETag.
 * Does not serve anything (the HTTP server does), read files at run time, or
 * decode URLs: the caller passes the request's path, already without its
 * query string.
 * Invariants: the assets are read-only data made at build time by
 * http/web/embed.py from the files themselves; an ETag changes whenever the
 * bytes do (it is a hash of them), so a cached copy is revalidated with
 * If-None-Match and never served stale.  A handful of files: lookup is a
 * linear scan.
 */
#ifndef SMTPSINK_WEB_ASSETS_H
#define SMTPSINK_WEB_ASSETS_H

#include <stddef.h>
#include <stdint.h>

struct web_asset {
	const char *path; /* "/app.js"; index.html is also found as "/" */
	const uint8_t *bytes;
	size_t length;
	const char *content_type; /* "text/javascript; charset=utf-8" */
	const char *etag; /* strong and quoted, for the ETag header: "\"<hex>\"" */
};

/* The asset whose URL path is path ("/" is "/index.html"), or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif

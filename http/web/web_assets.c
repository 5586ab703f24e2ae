/*
 * http/web/web_assets.c - finding an embedded web file by its URL path.
 *
 * Owns: the mapping from a request path to an entry of the generated table
 * (web_assets_data.c): exact, case-sensitive matches only, plus "/" for the
 * page itself.  Does not normalise paths: "/./app.js", "/app.js/" or a
 * query string are not found, so nothing a client writes can reach beyond
 * the table.  Expected workload: a few files, a few lookups a second.
 */
#include <string.h>

#include "web_asset_table.h"

#define WEB_ASSETS_INDEX_PATH "/index.html" /* what "/" serves */

const struct web_asset *web_asset_find(const char *path)
{
	if (path == NULL)
		return NULL;
	if (strcmp(path, "/") == 0)
		path = WEB_ASSETS_INDEX_PATH;
	for (size_t i = 0; i < web_asset_count; i++) {
		if (strcmp(web_asset_table[i].path, path) == 0)
			return &web_asset_table[i];
	}
	return NULL;
}

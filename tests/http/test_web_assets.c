/*
 * tests/http/test_web_assets.c - the embedded web page (http/web_assets.h).
 *
 * Owns: that each file of http/web/ is found under "/" + its name with
 * exactly the bytes of the file in the source tree (paths given as
 * arguments: NAME=PATH), "/" finds index.html, the Content-Types, the ETag's
 * form (quoted lowercase hex, one per distinct content), and that nothing
 * else is found: other names, other spellings of the same names (case,
 * trailing slash, dot segments, query strings, doubled slashes), the
 * build's own files, "" and NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"
#include "web_assets.h"

#define WEB_ASSETS_ETAG_LEN 34 /* 32 hex digits in double quotes */
#define WEB_ASSETS_FILE_MAX (1u << 20) /* the page stays small; larger is a mistake */

struct expected_type {
	const char *path, *content_type;
};

static const struct expected_type expected_types[] = {
	{ "/index.html", "text/html; charset=utf-8" },
	{ "/app.js", "text/javascript; charset=utf-8" },
	{ "/style.css", "text/css; charset=utf-8" },
};

static const char *const not_found[] = {
	"",	     "index.html",   "app.js",		 "/index.htm",	  "/INDEX.HTML",
	"/App.js",   "/index.html/", "/app.js/",	 "/app.js?v=1",	  "/app.js#x",
	"/./app.js", "/../app.js",   "//app.js",	 "/web/app.js",	  "/http/web/app.js",
	"/app.js ",  "/embed.py",    "/meson.build",	 "/web_assets.c", "/web_asset_table.h",
	"//",	     "/.",	     "/api/v1/messages",
};

/* The whole of a file, or NULL (reported as a failed check). */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!CHECK(f != NULL)) {
		fprintf(stderr, "  cannot open %s\n", path);
		return NULL;
	}
	char *buf = malloc(WEB_ASSETS_FILE_MAX + 1);
	*len = buf ? fread(buf, 1, WEB_ASSETS_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!CHECK(buf != NULL && *len <= WEB_ASSETS_FILE_MAX)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* arg is NAME=PATH: /NAME holds the bytes of PATH. */
static void test_bytes_equal_file(const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!CHECK(eq != NULL))
		return;
	char url[256];
	snprintf(url, sizeof url, "/%.*s", (int)(eq - arg), arg);
	size_t len = 0;
	char *want = read_file(eq + 1, &len);
	const struct web_asset *a = web_asset_find(url);
	if (!CHECK(a != NULL) || want == NULL) {
		fprintf(stderr, "  %s\n", url);
		free(want);
		return;
	}
	CHECK(strcmp(a->path, url) == 0);
	CHECK(len > 0);
	CHECK_U64(a->length, len);
	CHECK(a->length == len && memcmp(a->bytes, want, len) == 0);
	free(want);
}

static void test_content_types(void)
{
	for (size_t i = 0; i < sizeof expected_types / sizeof expected_types[0]; i++) {
		const struct web_asset *a = web_asset_find(expected_types[i].path);
		if (!CHECK(a != NULL))
			continue;
		CHECK_STR(a->content_type, strlen(a->content_type), expected_types[i].content_type);
	}
}

/* A strong ETag: "<32 lowercase hex digits>", no W/ prefix. */
static bool etag_well_formed(const char *etag)
{
	if (strlen(etag) != WEB_ASSETS_ETAG_LEN || etag[0] != '"' || etag[WEB_ASSETS_ETAG_LEN - 1] != '"')
		return false;
	for (size_t i = 1; i < WEB_ASSETS_ETAG_LEN - 1; i++) {
		if (strchr("0123456789abcdef", etag[i]) == NULL)
			return false;
	}
	return true;
}

static void test_etags(void)
{
	const size_t n = sizeof expected_types / sizeof expected_types[0];
	for (size_t i = 0; i < n; i++) {
		const struct web_asset *a = web_asset_find(expected_types[i].path);
		if (!CHECK(a != NULL))
			continue;
		if (!CHECK(etag_well_formed(a->etag)))
			fprintf(stderr, "  %s: ETag %s\n", a->path, a->etag);
		for (size_t j = i + 1; j < n; j++) {
			const struct web_asset *b = web_asset_find(expected_types[j].path);
			/* different bytes, different tags */
			if (b != NULL && (a->length != b->length || memcmp(a->bytes, b->bytes, a->length) != 0))
				CHECK(strcmp(a->etag, b->etag) != 0);
		}
	}
}

static void test_root_is_index(void)
{
	const struct web_asset *root = web_asset_find("/");
	CHECK(root != NULL);
	CHECK(root == web_asset_find("/index.html"));
}

static void test_not_found(void)
{
	for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
		if (!CHECK(web_asset_find(not_found[i]) == NULL))
			fprintf(stderr, "  found \"%s\"\n", not_found[i]);
	}
	CHECK(web_asset_find(NULL) == NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s NAME=PATH...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		test_bytes_equal_file(argv[i]);
	test_content_types();
	test_etags();
	test_root_is_index();
	test_not_found();
	return harness_finish("web_assets");
}

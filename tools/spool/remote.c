/*
 * tools/spool/remote.c - HTTP GET to a node (remote.h), through libcurl.
 *
 * Owns: URL checks (curl's URL parser: scheme, host, port, user and
 * password; anything after the authority is refused, so that requests
 * always go to the API's own paths) and collecting a body under its bound.
 * Workload: a listing (one request per node) or one message.
 */
#include "remote.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* curl_url_get's part (the port: the scheme's default when absent; user
 * and password %-decoded), or NULL (absent or no memory). */
static char *remote_part(CURLU *u, CURLUPart what)
{
	char *v = NULL;
	unsigned flags = what == CURLUPART_PORT				      ? CURLU_DEFAULT_PORT :
			 what == CURLUPART_USER || what == CURLUPART_PASSWORD ? CURLU_URLDECODE :
										0;
	if (curl_url_get(u, what, &v, flags) != CURLUE_OK)
		return NULL;
	char *copy = strdup(v);
	curl_free(v);
	return copy;
}

/* Fill r->label and r->base from u; false with r->why set. */
static bool remote_parse(struct remote *r, CURLU *u)
{
	char *scheme = remote_part(u, CURLUPART_SCHEME), *host = remote_part(u, CURLUPART_HOST);
	char *port = remote_part(u, CURLUPART_PORT), *path = remote_part(u, CURLUPART_PATH);
	char *query = remote_part(u, CURLUPART_QUERY);
	bool ok = false;
	if (scheme == NULL || host == NULL || port == NULL)
		snprintf(r->why, sizeof r->why, "not a URL (http://HOST:PORT)");
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		snprintf(r->why, sizeof r->why, "%s://: only http:// and https:// nodes", scheme);
	else if ((path != NULL && strcmp(path, "/") != 0) || query != NULL)
		snprintf(r->why, sizeof r->why, "give the node's address only (http://HOST:PORT), no path or query");
	else if ((size_t)snprintf(r->label, sizeof r->label, "%s://%s:%s", scheme, host, port) >= sizeof r->label)
		snprintf(r->why, sizeof r->why, "URL too long");
	else
		ok = (r->base = strdup(r->label)) != NULL;
	if (!ok && r->why[0] == '\0')
		snprintf(r->why, sizeof r->why, "out of memory");
	free(scheme);
	free(host);
	free(port);
	free(path);
	free(query);
	return ok;
}

int remote_open(struct remote *r, const char *url)
{
	*r = (struct remote){ .label = "" };
	CURLU *u = curl_url();
	CURLUcode uc = u != NULL ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
	if (uc != CURLUE_OK) {
		snprintf(r->why, sizeof r->why, "%s", curl_url_strerror(uc));
		curl_url_cleanup(u);
		return -1;
	}
	bool ok = remote_parse(r, u);
	r->user = remote_part(u, CURLUPART_USER);
	r->password = remote_part(u, CURLUPART_PASSWORD);
	curl_url_cleanup(u);
	if (ok && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && (r->curl = curl_easy_init()) != NULL)
		return 0;
	if (ok)
		snprintf(r->why, sizeof r->why, "cannot start libcurl");
	remote_close(r);
	return -1;
}

void remote_close(struct remote *r)
{
	if (r->curl != NULL) {
		curl_easy_cleanup(r->curl);
		curl_global_cleanup();
	}
	free(r->base);
	free(r->user);
	free(r->password);
	r->curl = NULL;
	r->base = r->user = r->password = NULL;
}

struct sink {
	struct remote_body *b;
	size_t cap;
	bool too_large;
};

static size_t remote_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (n > REMOTE_BODY_MAX_BYTES - s->b->len) {
		s->too_large = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (s->b->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->b->len + n + 1)
			cap *= 2;
		char *p = realloc(s->b->p, cap);
		if (p == NULL)
			return 0;
		s->b->p = p;
		s->cap = cap;
	}
	memcpy(s->b->p + s->b->len, data, n);
	s->b->len += n;
	s->b->p[s->b->len] = '\0';
	return n;
}

long remote_get(struct remote *r, const char *path, struct remote_body *out)
{
	char url[REMOTE_LABEL_BYTES * 4];
	*out = (struct remote_body){ NULL, 0 };
	if ((size_t)snprintf(url, sizeof url, "%s%s", r->base, path) >= sizeof url) {
		snprintf(r->why, sizeof r->why, "request path too long");
		return -1;
	}
	struct sink s = { out, 0, false };
	CURL *h = r->curl;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, remote_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, REMOTE_CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (r->user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, r->password != NULL ? r->password : "");
	}
	CURLcode rc = curl_easy_perform(h);
	long status = -1;
	if (rc == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		return status;
	snprintf(r->why, sizeof r->why, "%s",
		 s.too_large	? "response larger than 2 GiB" :
		 rc == CURLE_OK ? "no status" :
				  curl_easy_strerror(rc));
	free(out->p);
	*out = (struct remote_body){ NULL, 0 };
	return -1;
}

/*
 * http/api_marks.c - the endpoints that change marks: PUT
 * /api/v1/messages (read flags), DELETE /api/v1/messages, DELETE
 * /api/v1/search, PUT /api/v1/tags (Mailpit's {"IDs":[...],"Tags":[...]}:
 * the messages' tags become exactly these).
 *
 * Owns: reading their JSON bodies (jansson) strictly: a body that does
 * not parse, an ID that is not a queue ID, or {"IDs":[]} on DELETE is a
 * 400 and changes nothing (Mailpit deletes everything then); only an
 * empty DELETE body deletes every message.  PUT keeps Mailpit's meaning:
 * no IDs and no Search marks every message.  Marks are written through
 * the index (the marks log first, durable).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* The body's IDs array (absent: *n = 0, *present false).  NULL with a
 * reply queued on a bad value. */
static const char **body_ids(struct http_req *r, json_t *root, size_t *n, bool *present, enum MHD_Result *queued)
{
	static const char *none[1];
	json_t *ids = json_object_get(root, "IDs");
	*n = 0;
	*present = ids != NULL && !json_is_null(ids);
	if (!*present)
		return none;
	if (!json_is_array(ids)) {
		*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "IDs must be an array of message IDs");
		return NULL;
	}
	size_t count = json_array_size(ids);
	if (count == 0)
		return none; /* callers free only a non-empty list */
	const char **v = calloc(count, sizeof *v);
	if (v == NULL) {
		*queued = MHD_NO;
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = json_string_value(json_array_get(ids, i));
		if (s == NULL || !http_route_valid_id(s, strlen(s), false)) {
			free(v);
			*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "IDs[%zu] is not a message ID", i);
			return NULL;
		}
		v[i] = s;
	}
	*n = count;
	return v;
}

/* The body as a JSON object; NULL with a 400 queued. */
static json_t *body_object(struct http_req *r, enum MHD_Result *queued)
{
	json_error_t jerr;
	json_t *root = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object%s%s",
					   r->body != NULL && root == NULL ? ": " : "",
					   r->body != NULL && root == NULL ? jerr.text : "");
		return NULL;
	}
	return root;
}

static enum MHD_Result no_index(struct http_req *r)
{
	return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no spool: messages are not kept (--discard)");
}

/* Read flags by IDs, by search, or for every message. */
static enum MHD_Result set_read(struct http_req *r, json_t *root)
{
	enum MHD_Result queued = MHD_NO;
	json_t *read = json_object_get(root, "Read"), *search = json_object_get(root, "Search");
	if (read != NULL && !json_is_boolean(read))
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "Read must be true or false");
	if (search != NULL && !json_is_string(search))
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "Search must be a string");
	size_t n;
	bool present;
	const char **ids = body_ids(r, root, &n, &present, &queued);
	if (ids == NULL)
		return queued;
	const char *text = search != NULL ? json_string_value(search) : "";
	bool flag = json_is_true(read);
	if (n > 0 && text[0] != '\0') {
		queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST,
					  "You may specify either IDs or a search query, not both");
	} else if (text[0] != '\0') {
		struct search_query *q = malloc(sizeof *q);
		if (q != NULL && http_arg_query(r, text, q, &queued)) {
			int e = mail_index_set_read_search(r->srv->ix, q, flag);
			queued = e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
		}
		free(q);
	} else {
		int e = mail_index_set_read(r->srv->ix, ids, n, flag);
		queued = e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
	}
	if (n > 0)
		free(ids);
	return queued;
}

enum MHD_Result api_messages_read(struct http_req *r)
{
	if (r->srv->ix == NULL)
		return no_index(r);
	enum MHD_Result queued;
	json_t *root = body_object(r, &queued);
	if (root == NULL)
		return queued;
	enum MHD_Result ret = set_read(r, root);
	json_decref(root);
	return ret;
}

static bool body_empty(const struct http_req *r)
{
	for (size_t i = 0; i < r->body_len; i++)
		if (r->body[i] != ' ' && r->body[i] != '\t' && r->body[i] != '\r' && r->body[i] != '\n')
			return false;
	return true;
}

enum MHD_Result api_messages_delete(struct http_req *r)
{
	if (r->srv->ix == NULL)
		return no_index(r);
	if (body_empty(r)) {
		uint64_t before = api_info_visible(r);
		int e = mail_index_delete(r->srv->ix, NULL, 0);
		api_info_deleted(r, before);
		return e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
	}
	enum MHD_Result queued = MHD_NO;
	json_t *root = body_object(r, &queued);
	if (root == NULL)
		return queued;
	size_t n;
	bool present;
	const char **ids = body_ids(r, root, &n, &present, &queued);
	if (ids != NULL && n == 0)
		queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST,
					  "IDs is empty or missing: send no body to delete every message");
	if (ids != NULL && n > 0) {
		uint64_t before = api_info_visible(r);
		int e = mail_index_delete(r->srv->ix, ids, n);
		api_info_deleted(r, before);
		queued = e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
		free(ids);
	}
	json_decref(root);
	return queued;
}

enum MHD_Result api_search_delete(struct http_req *r)
{
	const char *text = http_arg(r, "query");
	if (text == NULL || text[strspn(text, " \t")] == '\0')
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "no search query");
	if (r->srv->ix == NULL)
		return no_index(r);
	struct search_query *q = malloc(sizeof *q);
	enum MHD_Result queued = MHD_NO;
	if (q == NULL)
		return MHD_NO;
	if (http_arg_query(r, text, q, &queued)) {
		uint64_t before = api_info_visible(r);
		int e = mail_index_delete_search(r->srv->ix, q);
		api_info_deleted(r, before);
		queued = e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
	}
	free(q);
	return queued;
}

/* The body's Tags array of strings; NULL with a 400 queued. */
static const char **body_tags(struct http_req *r, json_t *root, size_t *n, enum MHD_Result *queued)
{
	json_t *tags = json_object_get(root, "Tags");
	size_t count = json_is_array(tags) ? json_array_size(tags) : 0;
	const char **v = json_is_array(tags) && count <= MAIL_INDEX_TAGS_MAX ? calloc(count + 1, sizeof *v) : NULL;
	for (size_t i = 0; v != NULL && i < count; i++)
		if ((v[i] = json_string_value(json_array_get(tags, i))) == NULL || v[i][0] == '\0') {
			free(v);
			v = NULL;
		}
	if (v == NULL)
		*queued =
			http_reply_error(r, MHD_HTTP_BAD_REQUEST,
					 "Tags must be an array of at most %u non-empty strings", MAIL_INDEX_TAGS_MAX);
	*n = count;
	return v;
}

enum MHD_Result api_tags_set(struct http_req *r)
{
	if (r->srv->ix == NULL)
		return no_index(r);
	enum MHD_Result queued = MHD_NO;
	json_t *root = body_object(r, &queued);
	if (root == NULL)
		return queued;
	size_t n = 0, tag_count = 0;
	bool present;
	const char **ids = body_ids(r, root, &n, &present, &queued);
	const char **tags = ids != NULL ? body_tags(r, root, &tag_count, &queued) : NULL;
	if (tags != NULL && n == 0)
		queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "IDs is empty or missing");
	if (tags != NULL && n > 0) {
		int e = mail_index_set_tags(r->srv->ix, ids, n, tags, tag_count);
		queued = e == 0 ? http_reply_ok(r) : http_reply_errno(r, e, "marks");
	}
	if (n > 0)
		free(ids);
	free(tags);
	json_decref(root);
	return queued;
}

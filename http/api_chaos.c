/* placeholder, replaced below */
#include "http_int.h"
enum MHD_Result api_chaos_get(struct http_req *r)
{
	return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "Chaos is not enabled");
}
enum MHD_Result api_chaos_set(struct http_req *r)
{
	return http_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not yet");
}
enum MHD_Result api_session(struct http_req *r)
{
	return http_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not yet");
}

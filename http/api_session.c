/* placeholder until the reader library lands */
#include "http_int.h"

enum MHD_Result api_session(struct http_req *r)
{
	return http_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "not yet");
}

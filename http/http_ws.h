/*
 * http/http_ws.h - the websocket clients of GET /api/events, served by
 * the hub's events thread over the sockets the daemon hands over after
 * the upgrade.  Every function but http_hub_ws_add (http_int.h) and
 * http_ws_event is called with the hub's lock held.
 */
#ifndef SMTPSINK_HTTP_WS_H
#define SMTPSINK_HTTP_WS_H

#include <stddef.h>
#include <stdint.h>

struct http_hub;
struct ws_client;

/* Queue a text frame with json[0, n) for every client. */
void http_ws_publish(struct http_hub *h, const char *json, size_t n);
/* Send what is queued, pings when due, and close the clients that are done. */
void http_ws_tick(struct http_hub *h, int64_t now_us);
/* The events thread saw events on c's socket (takes the lock). */
void http_ws_event(struct http_hub *h, struct ws_client *c, uint32_t events);
void http_ws_close_all(struct http_hub *h);

#endif

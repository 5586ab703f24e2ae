/*
 * io/listen_sock.h - listening sockets for the SMTP shards and the HTTP
 * server: claiming an address, then opening it.
 *
 * Owns: refusing an address another process serves (TCP: a first bind
 * without SO_REUSEPORT must succeed; unix: a socket that still accepts is
 * refused, a stale one removed) and the listener's socket options.
 * Main thread, at start-up only.  Errors are negative errno.
 */
#ifndef SMTPSINK_LISTEN_SOCK_H
#define SMTPSINK_LISTEN_SOCK_H

#include <stdbool.h>

#include "server_config.h"

#define LISTEN_BACKLOG 4096

/* Is the address free for us?  0, or -EADDRINUSE (someone serves it), or
 * another -errno. */
int listen_sock_claim(const struct listen_addr *la);

/* A non-blocking listening socket on la (SO_REUSEPORT when asked, for the
 * shards sharing a port); the descriptor or -errno. */
int listen_sock_open(const struct listen_addr *la, bool reuseport);

#endif

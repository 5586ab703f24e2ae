/*
 * bench/floor/floor_net.h - the floor servers' listening socket and
 * command line (both take one argument, the IPv4 address HOST:PORT).
 *
 * Owns: parsing HOST:PORT (IPv4 only: the floor runs on loopback) and a
 * non-blocking listener with TCP_NODELAY (as smtpsink's, so replies leave
 * at once in both).  Does not: IPv6, unix sockets, SO_REUSEPORT, or
 * checking that nobody else serves the address.
 */
#ifndef SMTPSINK_FLOOR_NET_H
#define SMTPSINK_FLOOR_NET_H

#define FLOOR_LISTEN_BACKLOG 4096

/* The listening socket of "HOST:PORT", or -errno (-EINVAL: bad text). */
int floor_net_listen(const char *host_port);

/* The listener of argv[1] (usage and exit 2 on bad arguments, exit 1 when
 * it cannot listen), announced on stderr as "NAME: listening on ADDR". */
int floor_net_start(int argc, char **argv, const char *name);

#endif

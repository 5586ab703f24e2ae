/*
 * io/sd_notify.h - telling the service manager how the server is doing:
 * systemd's notification protocol (sd_notify(3)), spoken directly.
 *
 * Owns: reading $NOTIFY_SOCKET, turning it into a unix socket address
 * (a path, or "@name" for the abstract namespace), and sending one state
 * ("READY=1", "STOPPING=1", "STATUS=...", newline-separated) as one
 * datagram.  Does not decide when to send what (io/main.c does), does not
 * keep a socket open between messages, and does not speak vsock.
 * Main thread; a handful of messages per run.  Errors are negative errno.
 */
#ifndef SMTPSINK_SD_NOTIFY_H
#define SMTPSINK_SD_NOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

/* systemd drops a notification datagram longer than this (its
 * NOTIFY_BUFFER_MAX, PIPE_BUF); callers format into a buffer this size. */
#define SD_NOTIFY_MSG_MAX 4096

/* The address named by a NOTIFY_SOCKET value: 0 and *sun, *len filled;
 * -EAFNOSUPPORT for anything but "/path" or "@abstract", -ENAMETOOLONG when
 * it does not fit in sun_path, -EINVAL when empty. */
int sd_notify_addr(const char *value, struct sockaddr_un *sun, socklen_t *len);

/* Send state to $NOTIFY_SOCKET: 1 sent, 0 when no socket is set (not run by
 * a service manager that asked), -EMSGSIZE past SD_NOTIFY_MSG_MAX, or the
 * -errno of the address or the send. */
int sd_notify_send(const char *state);

#endif

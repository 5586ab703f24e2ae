# Dockerfile - smtpsink in a container: Debian 12 slim, the package that
# tools/package builds, the server as the non-root user smtpsink.
#
#   tools/package && docker build -t smtpsink .
#   docker run -d -p 2525:2525 -p 8025:8025 -v smtpsink-spool:/var/spool/smtpsink smtpsink
#
# docs/CONTAINER.md explains the choices, Docker's seccomp profile and
# io_uring (packaging/seccomp-io_uring.json), and what tools/container-check
# tests without Docker.
FROM debian:12-slim

# The .deb from tools/package (.dockerignore lets nothing else in).
COPY build-deb/smtpsink_*.deb /tmp/

# The package makes the user smtpsink and /var/spool/smtpsink (postinst);
# its dependencies come from Debian.  A local .deb has no version to pin.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/smtpsink_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/smtpsink_*.deb

# In a container "loopback" is the container's own: listen on every
# address instead; publishing a port (-p) is the operator's choice.
RUN sed -i -e 's/^listen = 127\.0\.0\.1:2525$/listen = 0.0.0.0:2525/' \
           -e 's/^http = 127\.0\.0\.1:8025$/http = 0.0.0.0:8025/' /etc/smtpsink/smtpsink.conf \
 && grep -qx 'listen = 0.0.0.0:2525' /etc/smtpsink/smtpsink.conf \
 && grep -qx 'http = 0.0.0.0:8025' /etc/smtpsink/smtpsink.conf

USER smtpsink
WORKDIR /var/spool/smtpsink
VOLUME ["/var/spool/smtpsink"]
# 2525 and 8025 as configured; 25 for "--listen 0.0.0.0:25", which the
# user smtpsink may bind where Docker sets net.ipv4.ip_unprivileged_port_start=0
# (Docker 20.10 and later do, in the container's own network namespace).
EXPOSE 25 2525 8025

# /livez answers 200 while the HTTP thread serves; the image has bash but
# no curl, so bash's /dev/tcp asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8025 && printf 'GET /livez HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# Arguments after the image name are more options: they override the
# file's keys (docker run smtpsink --listen 0.0.0.0:25 --stats 60).
ENTRYPOINT ["/usr/sbin/smtpsink", "--config", "/etc/smtpsink/smtpsink.conf"]

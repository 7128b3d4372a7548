/* Start-up bind check (listen_probe.h). */
#include "listen_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "strfmt.h"

int exo_listen_probe(const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    const char *ip = strcmp(host, "localhost") ? host : "127.0.0.1";
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
        return exo_errf(err, errlen, "--listen: '%s' is not an IPv4 address", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return exo_errf(err, errlen, "cannot create a socket: %s", strerror(errno));
    int one = 1; /* as the server's own socket: a port in TIME_WAIT is free */
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0)
        rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    close(fd);
    if (rc != 0)
        return exo_errf(err, errlen, "cannot listen on %s:%d: %s%s", host, port, strerror(e),
                        e == EADDRINUSE ? " (is another exo-state-manager running?)" : "");
    return 0;
}

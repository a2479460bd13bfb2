/*
 * 08-network: attack class "network access" (row 7).
 *
 * Every socket family but AF_UNIX must be refused (EPERM by the filter);
 * if one were created anyway, connecting out must still fail (empty netns).
 * AF_VSOCK matters here: the host may talk to its hypervisor over vsock.
 * AF_UNIX works, but an abstract socket the host bound (argv[1], bound by
 * run.sh in the host's netns) must be unreachable, and no socket file of
 * the host exists in the box. Prints BLOCKED/OPEN lines; exits 0 only if
 * everything was blocked.
 */
#include "common.h"
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static void try_family(const char *name, int fam, int type, int proto)
{
    int fd = socket(fam, type, proto);
    int e = errno;
    if (fd >= 0 && fam == AF_INET) {
        /* Should not happen; see if it reaches anything. */
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        vd_expect_fail("connect 127.0.0.1:22", rc, errno);
        inet_pton(AF_INET, "1.1.1.1", &sa.sin_addr);
        sa.sin_port = htons(53);
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        vd_expect_fail("connect 1.1.1.1:53", rc, errno);
    }
    char what[64];
    snprintf(what, sizeof what, "socket %s", name);
    vd_expect_errno_e(what, fd, e, EPERM);
    if (fd >= 0)
        close(fd);
}

int main(int argc, char **argv)
{
    try_family("AF_INET/STREAM", AF_INET, SOCK_STREAM, 0);
    try_family("AF_INET/DGRAM", AF_INET, SOCK_DGRAM, 0);
    try_family("AF_INET/RAW", AF_INET, SOCK_RAW, IPPROTO_ICMP);
    try_family("AF_INET/ICMP-ping", AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    try_family("AF_INET6/STREAM", AF_INET6, SOCK_STREAM, 0);
    try_family("AF_NETLINK/ROUTE", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    try_family("AF_NETLINK/AUDIT", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    try_family("AF_PACKET", AF_PACKET, SOCK_RAW, 0);
    try_family("AF_VSOCK/STREAM", AF_VSOCK, SOCK_STREAM, 0);
    try_family("AF_VSOCK/DGRAM", AF_VSOCK, SOCK_DGRAM, 0);
    try_family("AF_ALG", AF_ALG, SOCK_SEQPACKET, 0);
    try_family("AF_BLUETOOTH", 31, SOCK_RAW, 0);
    try_family("AF_XDP", 44, SOCK_RAW, 0);

    /* AF_UNIX is allowed; socketpair of another family is not. */
    int sv[2];
    int rc = socketpair(AF_INET, SOCK_STREAM, 0, sv);
    vd_expect_fail("socketpair AF_INET", rc, errno);

    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (u < 0) {
        printf("AF_UNIX socket failed: %s\n", strerrorname_np(errno));
        return 3;
    }
    if (argc > 1) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t n = strlen(argv[1]);
        memcpy(sa.sun_path + 1, argv[1], n); /* abstract: leading NUL */
        rc = connect(u, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + 1 + n);
        vd_expect_fail("connect host abstract socket", rc, errno);
    }
    const char *paths[] = {"/run/systemd/private", "/var/run/docker.sock",
                           "/run/dbus/system_bus_socket", "/dev/log",
                           "/run/systemd/journal/socket"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strncpy(sa.sun_path, paths[i], sizeof sa.sun_path - 1);
        rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
        char what[96];
        snprintf(what, sizeof what, "connect %s", paths[i]);
        vd_expect_fail(what, rc, errno);
        close(s);
    }

    /* The netns is empty: only a loopback, and it is down. */
    FILE *f = fopen("/proc/net/dev", "r");
    if (f) {
        char line[512];
        int ifs = 0;
        while (fgets(line, sizeof line, f))
            if (strchr(line, ':')) {
                ifs++;
                if (!strstr(line, "lo:"))
                    vd_fail("interface in box: %s", line);
            }
        fclose(f);
        printf("interfaces=%d\n", ifs);
    }
    return vd_done();
}

/*
 * proto.c - messages between the supervisor and a box init.
 *
 * One message is one SOCK_SEQPACKET datagram, so message boundaries come
 * from the kernel and a short read cannot happen. File descriptors travel as
 * SCM_RIGHTS and arrive close-on-exec (MSG_CMSG_CLOEXEC), so a descriptor
 * meant for one program can never leak into another exec by accident.
 * Used on both sides: no heap, no locks.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox-int.h"

#define MAX_FDS 4

int vd__msg_send(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (nfds > MAX_FDS)
        return -EINVAL;
    if (nfds > 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        ssize_t k = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (k == (ssize_t)len)
            return 0;
        if (k < 0 && errno == EINTR)
            continue;
        return k < 0 ? -errno : -EPROTO;
    }
}

ssize_t vd__msg_recv(int sock, void *buf, size_t cap, int *fds, int *nfds)
{
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    int want = nfds ? *nfds : 0, got = 0;
    ssize_t k;

    do
        k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int tmp[MAX_FDS];
        if (n > MAX_FDS)
            n = MAX_FDS;
        memcpy(tmp, CMSG_DATA(c), n * sizeof(int));
        for (size_t i = 0; i < n; i++) {
            if (got < want)
                fds[got++] = tmp[i];
            else
                close(tmp[i]); /* nobody asked for it: do not leak it */
        }
    }
    if (nfds)
        *nfds = got;
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        return -EMSGSIZE;
    return k;
}

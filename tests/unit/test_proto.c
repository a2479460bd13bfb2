/*
 * test_proto.c - src/sandbox/proto.c: one message per datagram, fds passed
 * along, extra fds never leaked, oversize messages refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "../../src/sandbox/sandbox-int.h"

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

TEST_IMPL(proto_message_with_fds)
{
    int sv[2], p[2], got[4], ngot = 4;
    char buf[64];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    ASSERT_OK(vd__msg_send(sv[0], "hello", 5, &p[1], 1));
    ASSERT_EQ(vd__msg_recv(sv[1], buf, sizeof(buf), got, &ngot), 5);
    ASSERT_EQ(ngot, 1);
    ASSERT_MEM_EQ(buf, "hello", 5);
    /* The received fd is the same pipe, and close-on-exec. */
    ASSERT(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
    ASSERT_EQ(write(got[0], "z", 1), 1);
    ASSERT_EQ(read(p[0], buf, 1), 1);
    ASSERT_EQ(buf[0], 'z');
    close(got[0]);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    return TEST_OK;
}

TEST_IMPL(proto_extra_fds_are_closed)
{
    int sv[2], p[2], got[1], ngot = 1;
    char buf[16];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    int before = count_fds();
    int three[3] = {p[0], p[1], p[0]};
    ASSERT_OK(vd__msg_send(sv[0], "x", 1, three, 3));
    ASSERT_EQ(vd__msg_recv(sv[1], buf, sizeof(buf), got, &ngot), 1);
    ASSERT_EQ(ngot, 1);
    close(got[0]);
    ASSERT_EQ(count_fds(), before);
    /* Nobody asked for fds at all: they are closed too. */
    ASSERT_OK(vd__msg_send(sv[0], "y", 1, three, 3));
    ASSERT_EQ(vd__msg_recv(sv[1], buf, sizeof(buf), NULL, NULL), 1);
    ASSERT_EQ(count_fds(), before);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    return TEST_OK;
}

TEST_IMPL(proto_oversize_is_an_error)
{
    int sv[2];
    char big[256] = {0}, small[16];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    ASSERT_OK(vd__msg_send(sv[0], big, sizeof(big), NULL, 0));
    ASSERT_ERR(vd__msg_recv(sv[1], small, sizeof(small), NULL, NULL), -EMSGSIZE);
    /* The next message is whole: datagram boundaries hold. */
    ASSERT_OK(vd__msg_send(sv[0], "ok", 2, NULL, 0));
    ASSERT_EQ(vd__msg_recv(sv[1], small, sizeof(small), NULL, NULL), 2);
    ASSERT_EQ(vd__msg_send(sv[0], big, sizeof(big), (int[]){0, 1, 2, 3, 4}, 5), -EINVAL);
    close(sv[0]);
    close(sv[1]);
    return TEST_OK;
}

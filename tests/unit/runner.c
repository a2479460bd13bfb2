/*
 * runner.c - runs the unit tests of test-list.h, each in a child of its own.
 *
 * Theory of operation: for every selected test the runner creates two
 * memfds (the test's stdout+stderr, and the one-line reason an ASSERT or
 * RETURN_SKIP leaves), forks, and waits for the child with a deadline (30 s
 * by default, TEST_ENTRY_TIMEOUT to change it, VD_TEST_TIMEOUT_SCALE to
 * stretch all of them, e.g. under valgrind). The child is the leader of a
 * new process group, so on timeout the runner kills the whole group,
 * including anything the test forked. A crash, a hang or an exit() deep in
 * the code under test therefore fails that one test and the run goes on.
 *
 * The parent blocks SIGCHLD and waits for it with sigtimedwait(): no
 * polling, no handler, and children restore the original mask.
 *
 * Output, one line per test, then the summary CI reads:
 *
 *     ok NAME
 *     FAIL NAME: reason          (followed by the test's output as "# " lines)
 *     skip NAME: reason
 *     N passed, N failed[, N skipped]
 *
 * Usage: test-unit [-v] [--list] [--no-fork] [NAME...]
 *   -v         show the output of passing tests too
 *   --list     print the test names and exit
 *   --no-fork  run in this process (for gdb); the first failure aborts
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/log.h"

#define DEFAULT_TIMEOUT_S 30
#define EXIT_FAIL 1
#define REASON_MAX 1024
#define OUTPUT_SHOW_MAX (64 * 1024)

#define TEST_ENTRY(name) int test_##name(void);
#define TEST_ENTRY_TIMEOUT(name, secs) int test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY
#undef TEST_ENTRY_TIMEOUT

struct test {
    const char *name;
    int (*fn)(void);
    int timeout_s; /* 0: the default */
};

static const struct test tests[] = {
#define TEST_ENTRY(name) {#name, test_##name, 0},
#define TEST_ENTRY_TIMEOUT(name, secs) {#name, test_##name, (secs)},
#include "test-list.h"
#undef TEST_ENTRY
#undef TEST_ENTRY_TIMEOUT
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

enum outcome {
    OUTCOME_OK,
    OUTCOME_FAIL,
    OUTCOME_SKIP
};

/* Where the current test leaves its reason: a memfd in forked mode. */
static int result_fd = -1;
static int no_fork;
static char reason_local[REASON_MAX]; /* --no-fork keeps the reason here */

/* Sanitizer defaults for this binary: the tests ask for absurd sizes on
 * purpose, which must come back as NULL rather than end the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1";
}

static void write_reason(const char *msg)
{
    size_t n = strlen(msg);

    snprintf(reason_local, sizeof(reason_local), "%s", msg);
    if (result_fd < 0)
        return;
    /* The first reason wins, as with vd_errf: a memfd gets one only while
     * it is empty. A pipe (harness_fork_capture) cannot seek: write. */
    if (lseek(result_fd, 0, SEEK_END) > 0)
        return;
    if (write(result_fd, msg, n) < 0)
        return;
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[REASON_MAX];
    const char *base = strrchr(file, '/');
    va_list ap;
    int n;

    n = snprintf(msg, sizeof(msg), "%s:%d: ", base ? base + 1 : file, line);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    write_reason(msg);
    fflush(stdout);
    fflush(stderr);
    if (no_fork) {
        fprintf(stderr, "FAIL: %s\n", msg);
        abort(); /* stop where a debugger can look */
    }
    /* _exit: atexit handlers of a half-run test should not run, and the
     * leak checker should not report what the failed test left behind. */
    _exit(EXIT_FAIL);
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

const char *harness_redis_url(char *buf, size_t cap, int db)
{
    const char *base = getenv("VERDICT_TEST_REDIS_URL");
    if (!base || !*base)
        return NULL;
    snprintf(buf, cap, "%s/%d", base, db);
    return buf;
}

int64_t harness_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_skip(const char *fmt, ...)
{
    char msg[REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_reason(msg);
}

long harness_mem_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return (long)i;
    }
    return -1;
}

int harness_fork_capture(void (*fn)(void *), void *arg, char *out, size_t outsize, int *status)
{
    int p[2];
    size_t used = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        int e = errno;

        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        close(p[0]);
        setrlimit(RLIMIT_CORE, &no_core); /* expected aborts leave no core files */
        dup2(p[1], STDERR_FILENO);
        vd_log_set_fd(p[1]);
        result_fd = p[1]; /* an ASSERT failing in fn reports into out */
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(p[1]);
    for (;;) {
        char tmp[512];
        ssize_t r = read(p[0], tmp, sizeof(tmp));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && used + 1 < outsize; i++)
            out[used++] = tmp[i];
    }
    if (outsize > 0)
        out[used] = '\0';
    close(p[0]);
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static const struct test *find_test(const char *name)
{
    for (size_t i = 0; i < NTESTS; i++) {
        if (strcmp(tests[i].name, name) == 0)
            return &tests[i];
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a memfd from the start into buf (NUL-terminated). */
static size_t read_memfd(int fd, char *buf, size_t size)
{
    ssize_t r = pread(fd, buf, size - 1, 0);

    if (r < 0)
        r = 0;
    buf[r] = '\0';
    return (size_t)r;
}

/* One line: control characters become spaces, trailing space goes. */
static void squash(char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20)
            s[i] = ' ';
    }
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void show_output(int fd)
{
    static char buf[OUTPUT_SHOW_MAX + 1];
    off_t total = lseek(fd, 0, SEEK_END);
    size_t n = read_memfd(fd, buf, sizeof(buf));
    char *line = buf, *nl;

    if (n == 0)
        return;
    while (*line) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        printf("# %s\n", line);
        if (!nl)
            break;
        line = nl + 1;
    }
    if (total > (off_t)n)
        printf("# ... (%lld more bytes)\n", (long long)(total - (off_t)n));
}

static int timeout_for(const struct test *t)
{
    const char *scale_env = getenv("VD_TEST_TIMEOUT_SCALE");
    long scale = 1;
    int secs = t->timeout_s > 0 ? t->timeout_s : DEFAULT_TIMEOUT_S;

    if (scale_env) {
        char *end;

        errno = 0;
        scale = strtol(scale_env, &end, 10);
        if (errno || *end || scale < 1 || scale > 1000)
            scale = 1;
    }
    return (int)(secs * scale);
}

static enum outcome run_in_process(const struct test *t, char *reason, size_t size)
{
    int rc;

    reason_local[0] = '\0';
    rc = t->fn();
    snprintf(reason, size, "%s", reason_local);
    if (rc == TEST_OK)
        return OUTCOME_OK;
    if (rc == TEST_SKIP)
        return OUTCOME_SKIP;
    snprintf(reason, size, "test returned %d", rc);
    return OUTCOME_FAIL;
}

static _Noreturn void child_main(const struct test *t, int out_fd, int res_fd,
                                 const sigset_t *orig_mask)
{
    int devnull, rc;

    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, orig_mask, NULL);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    result_fd = res_fd;
    rc = t->fn();
    if (rc != TEST_OK && rc != TEST_SKIP) {
        char msg[64];

        snprintf(msg, sizeof(msg), "test returned %d", rc);
        write_reason(msg);
        rc = EXIT_FAIL;
    }
    /* exit(), not _exit(): a passing test's leaks are reported by the
     * sanitizers' exit-time leak check. */
    exit(rc);
}

static enum outcome run_forked(const struct test *t, const sigset_t *orig_mask, char *reason,
                               size_t size, int *out_fd_ret)
{
    int out_fd = -1, res_fd = -1, status = 0, timed_out = 0, secs = timeout_for(t);
    sigset_t chld;
    double deadline;
    enum outcome oc = OUTCOME_FAIL;
    char got[REASON_MAX];
    pid_t pid;

    *out_fd_ret = -1;
    reason[0] = '\0';
    out_fd = memfd_create("test-output", MFD_CLOEXEC);
    res_fd = memfd_create("test-reason", MFD_CLOEXEC);
    if (out_fd < 0 || res_fd < 0) {
        snprintf(reason, size, "runner: memfd_create: %s", strerror(errno));
        goto out;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        snprintf(reason, size, "runner: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child_main(t, out_fd, res_fd, orig_mask);
    setpgid(pid, pid); /* also done by the child; whoever is first wins */

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    deadline = now_s() + secs;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        double left;
        struct timespec ts;

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(reason, size, "runner: waitpid: %s", strerror(errno));
            goto out;
        }
        left = deadline - now_s();
        if (left <= 0) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        sigtimedwait(&chld, NULL, &ts); /* EAGAIN or EINTR: look again */
    }
    /* Whatever the test left running in its group goes now. */
    kill(-pid, SIGKILL);

    read_memfd(res_fd, got, sizeof(got));
    squash(got);
    if (timed_out) {
        snprintf(reason, size, "timed out after %d s%s%s", secs, got[0] ? "; " : "", got);
    } else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));

        snprintf(reason, size, "killed by signal %d (SIG%s)%s%s", WTERMSIG(status),
                 abbrev ? abbrev : "?", got[0] ? "; " : "", got);
    } else if (WEXITSTATUS(status) == TEST_OK) {
        oc = OUTCOME_OK;
    } else if (WEXITSTATUS(status) == TEST_SKIP) {
        oc = OUTCOME_SKIP;
        snprintf(reason, size, "%s", got[0] ? got : "no reason given");
    } else if (WEXITSTATUS(status) == EXIT_FAIL && got[0]) {
        snprintf(reason, size, "%s", got);
    } else if (got[0]) {
        snprintf(reason, size, "exited with status %d; %s", WEXITSTATUS(status), got);
    } else {
        /* No assertion failed: something called exit(), or a sanitizer or
         * valgrind found an error after the test body returned. */
        snprintf(reason, size, "exited with status %d (no assertion failed; see the output)",
                 WEXITSTATUS(status));
    }
out:
    if (res_fd >= 0)
        close(res_fd);
    *out_fd_ret = out_fd;
    return oc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: test-unit [-v] [--list] [--no-fork] [NAME...]\n");
}

int main(int argc, char **argv)
{
    const struct test *selected[NTESTS];
    size_t nsel = 0;
    int verbose = 0, list = 0, passed = 0, failed = 0, skipped = 0;
    sigset_t chld, orig_mask;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--list") == 0) {
            list = 1;
        } else if (strcmp(argv[i], "--no-fork") == 0) {
            no_fork = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (list) {
        for (size_t k = 0; k < NTESTS; k++)
            printf("%s\n", tests[k].name);
        return 0;
    }
    if (i == argc) {
        for (size_t k = 0; k < NTESTS; k++)
            selected[nsel++] = &tests[k];
    }
    for (; i < argc; i++) {
        const struct test *t = find_test(argv[i]);

        if (!t) {
            fprintf(stderr, "test-unit: no test named %s (try --list)\n", argv[i]);
            return 2;
        }
        if (nsel < NTESTS)
            selected[nsel++] = t;
    }

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &orig_mask);

    for (size_t k = 0; k < nsel; k++) {
        const struct test *t = selected[k];
        char reason[REASON_MAX + 128];
        enum outcome oc;
        int out_fd = -1;

        if (no_fork)
            oc = run_in_process(t, reason, sizeof(reason));
        else
            oc = run_forked(t, &orig_mask, reason, sizeof(reason), &out_fd);
        switch (oc) {
        case OUTCOME_OK:
            passed++;
            printf("ok %s\n", t->name);
            break;
        case OUTCOME_SKIP:
            skipped++;
            printf("skip %s: %s\n", t->name, reason);
            break;
        case OUTCOME_FAIL:
            failed++;
            printf("FAIL %s: %s\n", t->name, reason);
            break;
        }
        if (out_fd >= 0) {
            if (oc == OUTCOME_FAIL || verbose)
                show_output(out_fd);
            close(out_fd);
        }
        fflush(stdout);
    }

    printf("%d passed, %d failed", passed, failed);
    if (skipped)
        printf(", %d skipped", skipped);
    printf("\n");
    return failed ? 1 : 0;
}

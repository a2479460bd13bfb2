/*
 * api_bare.c - the baseline of the API benchmark's end-to-end figure:
 * one program started N times in a row by fork + execve + waitpid, its
 * stdout read back from a pipe (verdict captures it too) and checked.
 *
 * Usage: bench-api-bare [-w W] [--expect TEXT] [--dir DIR] N PROG [ARG...]
 *   -w W           untimed warm-up runs first (default 10)
 *   --expect TEXT  every run's stdout must be exactly TEXT (escapes: \n)
 *   --dir DIR      chdir there first (the program is found relative to it)
 * Prints one line:
 *   bare: n=N total_ms=T ms_per_run=M runs_per_s=R
 * Exits 1 on the first run that does not exit 0 or prints something else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *const env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/tmp",
    "LANG=C.UTF-8",
    NULL,
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *msg)
{
    fprintf(stderr, "bench-api-bare: %s\n", msg);
    exit(1);
}

/* "\n" and "\\" in the --expect text, so a shell can pass a newline. */
static char *unescape(const char *s)
{
    char *o = malloc(strlen(s) + 1), *p = o;
    if (!o)
        die("out of memory");
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            *p++ = '\n';
            s++;
        } else if (s[0] == '\\' && s[1] == '\\') {
            *p++ = '\\';
            s++;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return o;
}

/* One run: the program with stdout on a pipe, read to EOF, then waited for. */
static void run_once(char *const argv[], const char *expect)
{
    static char buf[65536];
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        if (dup2(out[1], 1) < 0)
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(out[1]);
    size_t k = 0;
    ssize_t r;
    while ((r = read(out[0], buf + k, sizeof(buf) - 1 - k)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("read failed");
        }
        k += (size_t)r;
        if (k == sizeof(buf) - 1)
            die("the program printed more than 64 KB");
    }
    close(out[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid failed");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench-api-bare: %s: wait status 0x%x\n", argv[0], (unsigned)st);
        exit(1);
    }
    buf[k] = '\0';
    if (expect && strcmp(buf, expect) != 0) {
        fprintf(stderr, "bench-api-bare: %s printed \"%s\", expected \"%s\"\n", argv[0], buf, expect);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int warm = 10, i = 1;
    const char *expect = NULL, *dir = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            warm = atoi(argv[++i]);
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
            expect = unescape(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else
            break;
    }
    if (argc - i < 2 || warm < 0)
        die("usage: bench-api-bare [-w W] [--expect TEXT] [--dir DIR] N PROG [ARG...]");
    int n = atoi(argv[i]);
    if (n < 1)
        die("N must be at least 1");
    char *const *prog = &argv[i + 1];
    if (dir && chdir(dir) < 0)
        die("chdir failed");
    signal(SIGPIPE, SIG_IGN);

    for (int k = 0; k < warm; k++)
        run_once(prog, expect);
    double t0 = now_ms();
    for (int k = 0; k < n; k++)
        run_once(prog, expect);
    double t = now_ms() - t0;
    printf("bare: n=%d total_ms=%.1f ms_per_run=%.3f runs_per_s=%.2f\n", n, t, t / n, n * 1e3 / t);
    return 0;
}

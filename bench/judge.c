/*
 * judge.c - judging 100 tests against running the same binary 100 times.
 *
 * One process, one run, for an A+B solution in C and in Python:
 *   judge  vd_judge_run with 100 test cases (the compile is cached after a
 *          warm-up, as for any resubmission): every test in its own reset
 *          box, input on stdin, output checked; the pool's boxes run tests
 *          in parallel (one per CPU).
 *   bare   the same binary (C compiled on the host with the language's own
 *          command; python3 main.py) run 100 times in a loop by
 *          fork + execve + waitpid, input on a pipe, output read back.
 * Rounds alternate judge and bare so that noise hits both alike; medians.
 * Also the cost of a cached compile (the key and the lookup), from the
 * judge's own report.
 *
 * Last line: judge: c100/bare=R1 py100/bare=R2 cached_compile_ms=M
 * Usage: bench-judge [--rounds N] [--langs DIR]   (root)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vd/judge.h"

#define NTESTS 100

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *msg)
{
    fprintf(stderr, "bench-judge: %s\n", msg);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char inputs[NTESTS][32], answers[NTESTS][32];
static struct vd_test_case tests[NTESTS];

/* One bare run: argv in dir, input on a pipe, stdout read and checked. */
static void bare_run(const char *dir, char *const argv[], int i)
{
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        die("pipe");
    pid_t p = fork();
    if (p == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (chdir(dir) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (write(in[1], inputs[i], strlen(inputs[i])) < 0)
        die("write");
    close(in[1]);
    char buf[64];
    size_t k = 0;
    ssize_t r;
    /* To EOF: the output may come in several pieces. */
    while ((r = read(out[0], buf + k, sizeof(buf) - 1 - k)) > 0 && k < sizeof(buf) - 1)
        k += (size_t)r;
    close(out[0]);
    int st;
    waitpid(p, &st, 0);
    if (k == 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("a bare run failed");
    buf[k] = '\0';
    if (strcmp(buf, answers[i]) != 0)
    {
        fprintf(stderr, "bench-judge: bare run %d: got \"%s\", want \"%s\"\n", i, buf, answers[i]);
        exit(1);
    }
}

static double bare_100(const char *dir, char *const argv[])
{
    double t0 = now_ms();
    for (int i = 0; i < NTESTS; i++)
        bare_run(dir, argv, i);
    return now_ms() - t0;
}

static double judge_100(struct vd_judge *j, const struct vd_lang *l, const char *src, double *cached_ms)
{
    struct vd_judge_request req;
    struct vd_judge_result res;
    memset(&req, 0, sizeof(req));
    req.lang = l;
    req.source = src;
    req.source_len = strlen(src);
    req.tests = tests;
    req.ntests = NTESTS;
    vd_judge_result_init(&res);
    double t0 = now_ms();
    if (vd_judge_run(j, &req, &res) < 0)
        die(res.message);
    double t = now_ms() - t0;
    if (res.verdict != VD_VERDICT_AC || res.passed != NTESTS) {
        fprintf(stderr, "bench-judge: %s: verdict %s, %zu/%d: %s\n%s", l->id, vd_verdict_name(res.verdict),
                res.passed, NTESTS, res.message, vd_buf_str(&res.compile.output));
        exit(1);
    }
    if (cached_ms)
        *cached_ms = res.compile.cached ? res.compile.wall_us / 1e3 : -1;
    vd_judge_result_free(&res);
    return t;
}

static const char c_src[] = "#include <stdio.h>\nint main(void){long a,b;if(scanf(\"%ld %ld\",&a,&b)!=2)"
                            "return 1;printf(\"%ld\\n\",a+b);return 0;}\n";
static const char py_src[] = "a, b = map(int, input().split())\nprint(a + b)\n";

int main(int argc, char **argv)
{
    int rounds = 5;
    const char *langs_dir = "langs";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--langs") == 0 && i + 1 < argc)
            langs_dir = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0)
            rounds = 2;
        else
            die("usage: bench-judge [--rounds N] [--quick] [--langs DIR]");
    }
    if (rounds < 1 || rounds > 100)
        die("--rounds 1..100");
    if (geteuid() != 0)
        die("must run as root (the sandbox needs it)");

    srand(42);
    for (int i = 0; i < NTESTS; i++) {
        long a = rand() % 1000000, b = rand() % 1000000;
        snprintf(inputs[i], sizeof(inputs[i]), "%ld %ld\n", a, b);
        snprintf(answers[i], sizeof(answers[i]), "%ld\n", a + b);
        static char names[NTESTS][8];
        snprintf(names[i], sizeof(names[i]), "%03d", i);
        tests[i] = (struct vd_test_case){names[i], inputs[i], strlen(inputs[i]), answers[i], strlen(answers[i])};
    }

    struct vd_errbuf eb = {""};
    struct vd_langs *langs;
    if (vd_langs_load(langs_dir, &langs, &eb) < 0)
        die(eb.msg);
    vd_langs_probe(langs, NULL, 30000);
    const struct vd_lang *c = vd_langs_find(langs, "c"), *py = vd_langs_find(langs, "python");
    if (!c || !py || !c->available || !py->available)
        die("languages c and python must be in the table and installed");

    /* The bare binaries: the C one compiled with the language's command. */
    char dir[] = "/tmp/vd-bench-judge-XXXXXX", path[256];
    if (!mkdtemp(dir))
        die("mkdtemp");
    snprintf(path, sizeof(path), "%s/%s", dir, c->source);
    FILE *f = fopen(path, "w");
    fputs(c_src, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s", dir, py->source);
    f = fopen(path, "w");
    fputs(py_src, f);
    fclose(f);
    pid_t p = fork();
    if (p == 0) {
        if (chdir(dir) < 0)
            _exit(126);
        execvp(c->compile[0], c->compile);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("compiling the bare C binary failed");

    struct vd_sandbox_config cfg;
    vd_sandbox_config_defaults(&cfg);
    cfg.first_uid = cfg.first_gid = 64100;
    cfg.extra_binds = vd_langs_binds(langs);
    struct vd_sandbox *sb;
    if (vd_sandbox_open(&cfg, &sb, &eb) < 0)
        die(eb.msg);
    char cache[] = "/tmp/vd-bench-cache-XXXXXX";
    if (!mkdtemp(cache))
        die("mkdtemp");
    struct vd_judge_config jc = {cache, 0, 0};
    struct vd_judge *j;
    if (vd_judge_new(sb, &jc, &j, &eb) < 0)
        die(eb.msg);

    char *c_argv[] = {"./main", NULL};
    char *py_argv[] = {"/usr/bin/python3", "main.py", NULL};
    /* Warm-up: fills the compile cache, the page cache, the boxes. */
    judge_100(j, c, c_src, NULL);
    judge_100(j, py, py_src, NULL);
    bare_100(dir, c_argv);
    bare_100(dir, py_argv);

    double jc_ms[100], bc_ms[100], jp_ms[100], bp_ms[100], cached[200];
    int nc = 0;
    for (int r = 0; r < rounds; r++) {
        double x;
        jc_ms[r] = judge_100(j, c, c_src, &x);
        cached[nc++] = x;
        bc_ms[r] = bare_100(dir, c_argv);
        jp_ms[r] = judge_100(j, py, py_src, &x);
        cached[nc++] = x;
        bp_ms[r] = bare_100(dir, py_argv);
    }
    double jc_med = median(jc_ms, rounds), bc_med = median(bc_ms, rounds);
    double jp_med = median(jp_ms, rounds), bp_med = median(bp_ms, rounds);
    double cached_med = median(cached, nc);

    printf("machine: %ld CPUs, sandbox mode %s, %d slots; %d rounds, %d tests each\n",
           sysconf(_SC_NPROCESSORS_ONLN), vd_sandbox_mode_name(vd_sandbox_get_mode(sb)),
           vd_sandbox_slots(sb), rounds, NTESTS);
    printf("targets: c100/bare <= 1.0, py100/bare <= 1.0 (tests run in parallel), cached compile < 5 ms\n");
    printf("%-8s %-34s %10s %12s\n", "lang", "method", "median ms", "per test ms");
    printf("%-8s %-34s %10.1f %12.3f\n", "c", "judge: 100 tests, cached compile", jc_med, jc_med / NTESTS);
    printf("%-8s %-34s %10.1f %12.3f\n", "c", "bare: 100 runs in a loop", bc_med, bc_med / NTESTS);
    printf("%-8s %-34s %10.1f %12.3f\n", "python", "judge: 100 tests, cached compile", jp_med, jp_med / NTESTS);
    printf("%-8s %-34s %10.1f %12.3f\n", "python", "bare: 100 runs in a loop", bp_med, bp_med / NTESTS);
    printf("cached compile (key + lookup): median %.3f ms\n", cached_med);
    printf("judge: c100/bare=%.2f py100/bare=%.2f cached_compile_ms=%.2f\n", jc_med / bc_med, jp_med / bp_med,
           cached_med);

    vd_judge_free(j);
    vd_sandbox_close(sb);
    vd_langs_free(langs);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, cache);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

/*
 * run.c - `verdict run FILE`: judge a file locally, no server.
 *
 * Loads the language table, picks the language (--lang, else the file's
 * extension), checks its toolchain is there, opens a sandbox pool (one slot
 * per CPU for tests, one for a plain run), and calls the judge: with
 * --tests DIR every NAME.in with NAME.ans (or NAME.out) is a test, in
 * natural name order; without, one run with --stdin. Human output by
 * default, one JSON object with --json. Exit 0 when the verdict is AC or
 * OK, 1 for any other verdict, 2 for a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "vd/alloc.h"
#include "vd/judge.h"

#define RUN_FILE_MAX ((size_t)64 << 20)
#define RUN_CACHE_DEFAULT "/var/cache/verdict"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: verdict run FILE [OPTIONS]\n"
            "\n"
            "Compiles FILE once and runs it in the sandbox: against every test of --tests DIR\n"
            "(NAME.in with NAME.ans or NAME.out), or once with --stdin.\n"
            "\n"
            "  --lang ID         language (default: from the file's extension; see verdict langs)\n"
            "  --tests DIR       test cases\n"
            "  --stdin FILE      input of a plain run (default: empty)\n"
            "  --time SEC        CPU time per test (default: the language's)\n"
            "  --wall SEC        wall time per test (default: 2 x time)\n"
            "  --mem MB          memory per test (default: the language's)\n"
            "  --checker SPEC    tokens (default), exact, nocase, float:EPS,\n"
            "                    float:abs=EPS,rel=EPS, or a checker program\n"
            "  --stop            stop at the first failing test\n"
            "  --json            print one JSON object\n"
            "  --langs DIR       the language directory\n"
            "  --cache DIR       the compile cache (default " RUN_CACHE_DEFAULT ")\n"
            "  --mode MODE       sandbox mode: auto, cgroup2, cgroup1, none\n");
}

static int read_file(const char *path, struct vd_buf *out)
{
    vd_buf_init(out, RUN_FILE_MAX);
    return vd_buf_read_file(out, path);
}

struct tests {
    struct vd_test_case *v;
    struct vd_buf *bufs; /* 2 per test: input, answer */
    char **names;
    size_t n;
};

static int by_name(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

static void tests_free(struct tests *t)
{
    for (size_t i = 0; i < t->n; i++) {
        vd_buf_free(&t->bufs[2 * i]);
        vd_buf_free(&t->bufs[2 * i + 1]);
        vd_free(t->names[i]);
    }
    vd_free(t->v);
    vd_free(t->bufs);
    vd_free(t->names);
}

static int load_tests(const char *dir, struct tests *t)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    memset(t, 0, sizeof(*t));
    if (!d) {
        fprintf(stderr, "verdict run: --tests %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".in") != 0)
            continue;
        if (t->n == VD_JUDGE_MAX_TESTS) {
            fprintf(stderr, "verdict run: more than %d tests\n", VD_JUDGE_MAX_TESTS);
            closedir(d);
            return -1;
        }
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            t->names = vd_xrealloc(t->names, cap * sizeof(char *));
        }
        t->names[t->n] = vd_xstrdup(e->d_name);
        t->names[t->n][n - 3] = '\0';
        t->n++;
    }
    closedir(d);
    if (t->n == 0) {
        fprintf(stderr, "verdict run: no NAME.in in %s\n", dir);
        return -1;
    }
    qsort(t->names, t->n, sizeof(char *), by_name);
    t->v = vd_xcalloc(t->n, sizeof(*t->v));
    t->bufs = vd_xcalloc(2 * t->n, sizeof(*t->bufs));
    for (size_t i = 0; i < t->n; i++) {
        char in[4096], ans[4096];
        snprintf(in, sizeof(in), "%s/%s.in", dir, t->names[i]);
        snprintf(ans, sizeof(ans), "%s/%s.ans", dir, t->names[i]);
        if (access(ans, F_OK) < 0)
            snprintf(ans, sizeof(ans), "%s/%s.out", dir, t->names[i]);
        int rc = read_file(in, &t->bufs[2 * i]);
        if (rc == 0)
            rc = read_file(ans, &t->bufs[2 * i + 1]);
        if (rc < 0) {
            fprintf(stderr, "verdict run: test %s: %s (needs %s.in and %s.ans or %s.out)\n",
                    t->names[i], vd_strerror(rc), t->names[i], t->names[i], t->names[i]);
            return -1;
        }
        t->v[i] =
            (struct vd_test_case){t->names[i], vd_buf_str(&t->bufs[2 * i]), t->bufs[2 * i].len,
                                  vd_buf_str(&t->bufs[2 * i + 1]), t->bufs[2 * i + 1].len};
    }
    return 0;
}

static void print_human(const struct vd_judge_result *r, int plain)
{
    if (r->compile.output.len)
        fprintf(stderr, "compiler output%s:\n%s%s", r->compile.truncated ? " (truncated)" : "",
                vd_buf_str(&r->compile.output),
                r->compile.output.data[r->compile.output.len - 1] == '\n' ? "" : "\n");
    if (plain && r->verdict != VD_VERDICT_CE && r->verdict != VD_VERDICT_IE) {
        fwrite(r->run.out.data ? r->run.out.data : "", 1, r->run.out.len, stdout);
        fwrite(r->run.err.data ? r->run.err.data : "", 1, r->run.err.len, stderr);
        fflush(stdout);
        fprintf(stderr,
                "verdict: %s  exit %d%s  cpu %llu ms  wall %llu ms  memory %llu KiB%s  (%s)\n",
                vd_verdict_name(r->verdict), r->run.exit_code, r->run.signal ? " (signal)" : "",
                (unsigned long long)(r->run.cpu_us / 1000),
                (unsigned long long)(r->run.wall_us / 1000), (unsigned long long)r->run.memory_kb,
                r->compile.cached ? "  compile cached" : "", r->message);
        return;
    }
    for (size_t i = 0; i < r->ntests; i++) {
        const struct vd_test_result *t = &r->tests[i];
        printf("%-20s %-7s %6llu ms %8llu KiB  %s\n", t->name, vd_verdict_name(t->verdict),
               (unsigned long long)(t->cpu_us / 1000), (unsigned long long)t->memory_kb,
               t->verdict == VD_VERDICT_AC ? "" : t->message);
    }
    printf("verdict: %s  %zu/%zu passed%s  %s\n", vd_verdict_name(r->verdict), r->passed, r->total,
           r->compile.cached ? "  (compile cached)" : "", r->message);
}

int vd_cmd_run(int argc, char **argv)
{
    enum {
        O_LANG = 1000,
        O_TESTS,
        O_STDIN,
        O_TIME,
        O_WALL,
        O_MEM,
        O_CHECKER,
        O_STOP,
        O_JSON,
        O_LANGS,
        O_CACHE,
        O_MODE,
        O_HELP
    };
    static const struct option opts[] = {
        {"lang", required_argument, 0, O_LANG},
        {"tests", required_argument, 0, O_TESTS},
        {"stdin", required_argument, 0, O_STDIN},
        {"time", required_argument, 0, O_TIME},
        {"wall", required_argument, 0, O_WALL},
        {"mem", required_argument, 0, O_MEM},
        {"checker", required_argument, 0, O_CHECKER},
        {"stop", no_argument, 0, O_STOP},
        {"json", no_argument, 0, O_JSON},
        {"langs", required_argument, 0, O_LANGS},
        {"cache", required_argument, 0, O_CACHE},
        {"mode", required_argument, 0, O_MODE},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *lang_id = NULL, *tests_dir = NULL, *stdin_path = NULL, *checker = NULL;
    const char *langs_dir = NULL, *cache_dir = RUN_CACHE_DEFAULT;
    int json = 0, ret = 2;
    double tsec = 0, wsec = 0;
    long mem_mb = 0;
    struct vd_errbuf eb = {""};
    struct vd_langs *langs = NULL;
    struct vd_sandbox *sb = NULL;
    struct vd_judge *judge = NULL;
    struct vd_sandbox_config cfg;
    struct vd_judge_request req;
    struct vd_judge_result res;
    struct vd_buf source, input;
    struct tests tests;

    memset(&req, 0, sizeof(req));
    memset(&tests, 0, sizeof(tests));
    vd_buf_init(&source, 0);
    vd_buf_init(&input, 0);
    vd_judge_result_init(&res);
    vd_sandbox_config_defaults(&cfg);
    optind = 1;
    /* Options may follow FILE: GNU getopt permutes. */
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case O_LANG:
            lang_id = optarg;
            break;
        case O_TESTS:
            tests_dir = optarg;
            break;
        case O_STDIN:
            stdin_path = optarg;
            break;
        case O_TIME:
            tsec = strtod(optarg, &end);
            break;
        case O_WALL:
            wsec = strtod(optarg, &end);
            break;
        case O_MEM:
            mem_mb = strtol(optarg, &end, 10);
            break;
        case O_CHECKER:
            checker = optarg;
            break;
        case O_STOP:
            req.stop_on_failure = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_LANGS:
            langs_dir = optarg;
            break;
        case O_CACHE:
            cache_dir = optarg;
            break;
        case O_MODE:
            if (vd_sandbox_mode_parse(optarg, &cfg.mode) < 0) {
                fprintf(stderr, "verdict run: bad --mode \"%s\"\n", optarg);
                goto out;
            }
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            ret = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
        if (end && (*end || tsec < 0 || tsec > 3600 || wsec < 0 || wsec > 3600 || mem_mb < 0 ||
                    mem_mb > (1 << 20))) {
            fprintf(stderr, "verdict run: bad number \"%s\"\n", optarg);
            goto out;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "verdict run: give exactly one source FILE\n");
        usage(stderr);
        goto out;
    }
    const char *file = argv[optind];
    if (vd_checker_parse(checker, &req.checker, &eb) < 0) {
        fprintf(stderr, "verdict run: %s\n", eb.msg);
        goto out;
    }
    if (vd_langs_load(vd_cmd_langs_dir(langs_dir), &langs, &eb) < 0) {
        fprintf(stderr, "verdict run: %s\n", eb.msg);
        goto out;
    }
    req.lang = lang_id ? vd_langs_find(langs, lang_id) : vd_langs_by_file(langs, file);
    if (!req.lang) {
        fprintf(stderr, "verdict run: %s: unknown language (see `verdict langs`, or give --lang)\n",
                lang_id ? lang_id : file);
        goto out;
    }
    vd_langs_probe(langs, req.lang, 20000);
    if (!req.lang->available) {
        fprintf(stderr, "verdict run: %s is not installed here (Debian packages:", req.lang->id);
        for (size_t i = 0; req.lang->packages[i]; i++)
            fprintf(stderr, " %s", req.lang->packages[i]);
        fprintf(stderr, "; scripts/langs-install.sh installs them)\n");
        goto out;
    }
    int rc = read_file(file, &source);
    if (rc < 0 || (stdin_path && (rc = read_file(stdin_path, &input)) < 0)) {
        fprintf(stderr, "verdict run: %s: %s\n", rc < 0 && source.len == 0 ? file : stdin_path,
                vd_strerror(rc));
        goto out;
    }
    if (tests_dir && load_tests(tests_dir, &tests) < 0)
        goto out;
    req.source = vd_buf_str(&source);
    req.source_len = source.len;
    req.tests = tests.v;
    req.ntests = tests.n;
    req.stdin_data = vd_buf_str(&input);
    req.stdin_len = input.len;
    req.limits.cpu_ms = (uint32_t)(tsec * 1000 + 0.5);
    req.limits.wall_ms = (uint32_t)(wsec * 1000 + 0.5);
    req.limits.memory_kb = (uint64_t)mem_mb * 1024;

    if (tests.n == 0 || cfg.slots > (int)tests.n)
        cfg.slots = tests.n ? (int)tests.n : 1;
    cfg.extra_binds = vd_langs_binds(langs);
    if (vd_cmd_open_sandbox(&cfg, -1, &sb, &eb) < 0) {
        fprintf(stderr, "verdict run: sandbox: %s\n", eb.msg);
        goto out;
    }
    struct vd_judge_config jc = {cache_dir, 0, 0};
    if (vd_judge_new(sb, &jc, &judge, &eb) < 0) {
        fprintf(stderr, "verdict run: %s\n", eb.msg);
        goto out;
    }
    if (vd_judge_run(judge, &req, &res) < 0) {
        fprintf(stderr, "verdict run: %s\n", res.message);
        goto out;
    }
    if (json) {
        struct vd_buf j;
        vd_buf_init(&j, (size_t)64 << 20);
        if (vd_judge_result_json(&res, tests.n == 0, &j) < 0 || vd_buf_add(&j, "\n", 1) < 0) {
            fprintf(stderr, "verdict run: cannot format the result\n");
            vd_buf_free(&j);
            goto out;
        }
        fwrite(j.data, 1, j.len, stdout);
        vd_buf_free(&j);
    } else {
        print_human(&res, tests.n == 0);
    }
    ret = res.verdict == VD_VERDICT_AC || res.verdict == VD_VERDICT_OK ? 0 : 1;
out:
    vd_judge_result_free(&res);
    vd_judge_free(judge);
    vd_sandbox_close(sb);
    vd_langs_free(langs);
    tests_free(&tests);
    vd_buf_free(&source);
    vd_buf_free(&input);
    return ret;
}

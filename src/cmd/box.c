/*
 * box.c - `verdict box`: run one program in the sandbox, like isolate --run.
 *
 * Opens a pool of one slot (the first free one, or --slot N), copies --dir
 * into /box, runs the program with the limits given, copies its output to
 * the files named (or to our own stdout and stderr), and writes the run's
 * record as one JSON object to --meta (or to stderr). Exit status: 0 when
 * the record was written, whatever the program did (the record says); 2 for
 * a usage error; 1 when even the record could not be written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "vd/alloc.h"
#include "vd/sandbox.h"

#define BOX_MAX_LIST 64
#define BOX_STDIN_MAX ((size_t)1 << 30) /* 1 GiB of input */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: verdict box [OPTIONS] -- PROGRAM [ARGS...]\n"
            "\n"
            "Runs PROGRAM in a fresh sandbox and writes its record (JSON) to --meta or stderr.\n"
            "\n"
            "limits:\n"
            "  --time SEC        CPU time of all its processes (default 5)\n"
            "  --wall SEC        wall-clock time (default 2 x time + 1)\n"
            "  --mem MB          memory (default 256)\n"
            "  --procs N         processes + threads at once (default 64)\n"
            "  --output KB       cap on stdout and on stderr, each; past it: OLE (default 65536)\n"
            "  --fsize KB        largest file it may write (default 65536)\n"
            "  --stack KB        stack size (default: unlimited within --mem)\n"
            "  --nofile N        open files (default 64)\n"
            "files:\n"
            "  --dir DIR         copy DIR into /box, the working directory\n"
            "  --stdin FILE      standard input (default: /dev/null)\n"
            "  --stdout FILE     where its stdout goes (default: ours)\n"
            "  --stderr FILE     where its stderr goes (default: ours)\n"
            "  --meta FILE       where the record goes (default: stderr)\n"
            "  --bind SRC[:DST]  one more read-only directory or file in the box\n"
            "  --env K=V         one more environment variable\n"
            "  --cwd DIR         working directory in the box (default /box)\n"
            "sandbox:\n"
            "  --mode MODE       auto, cgroup2, cgroup1 or none (default auto)\n"
            "  --require-cgroup  refuse to run without cgroups\n"
            "  --slot N          use slot N (uid 60000+N); default: the first free one\n"
            "  --allow-locks     let flock() and fcntl locks through the filter\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_sec_ms(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 86400)
        return -1;
    *out = (uint32_t)(v * 1000.0 + 0.5);
    return 0;
}

static int open_out(const char *path, int *fd)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (*fd < 0) {
        fprintf(stderr, "verdict box: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes the record; returns the exit status of the command. */
static int write_meta(const char *meta, const struct vd_run_result *r)
{
    struct vd_buf b;
    int rc, fd = 2;
    vd_buf_init(&b, 8192);
    if (vd_run_result_json(r, &b) < 0 || vd_buf_add(&b, "\n", 1) < 0) {
        fprintf(stderr, "verdict box: cannot format the record\n");
        vd_buf_free(&b);
        return 1;
    }
    if (meta && open_out(meta, &fd) < 0) {
        vd_buf_free(&b);
        return 1;
    }
    rc = write(fd, b.data, b.len) == (ssize_t)b.len ? 0 : 1;
    if (meta)
        close(fd);
    vd_buf_free(&b);
    return rc;
}

int vd_cmd_box(int argc, char **argv)
{
    enum {
        O_TIME = 1000,
        O_WALL,
        O_MEM,
        O_PROCS,
        O_OUTPUT,
        O_FSIZE,
        O_STACK,
        O_NOFILE,
        O_DIR,
        O_STDIN,
        O_STDOUT,
        O_STDERR,
        O_META,
        O_BIND,
        O_ENV,
        O_CWD,
        O_MODE,
        O_REQCG,
        O_SLOT,
        O_LOCKS,
        O_HELP
    };
    static const struct option opts[] = {
        {"time", required_argument, 0, O_TIME},     {"wall", required_argument, 0, O_WALL},
        {"mem", required_argument, 0, O_MEM},       {"procs", required_argument, 0, O_PROCS},
        {"output", required_argument, 0, O_OUTPUT}, {"fsize", required_argument, 0, O_FSIZE},
        {"stack", required_argument, 0, O_STACK},   {"nofile", required_argument, 0, O_NOFILE},
        {"dir", required_argument, 0, O_DIR},       {"stdin", required_argument, 0, O_STDIN},
        {"stdout", required_argument, 0, O_STDOUT}, {"stderr", required_argument, 0, O_STDERR},
        {"meta", required_argument, 0, O_META},     {"bind", required_argument, 0, O_BIND},
        {"env", required_argument, 0, O_ENV},       {"cwd", required_argument, 0, O_CWD},
        {"mode", required_argument, 0, O_MODE},     {"require-cgroup", no_argument, 0, O_REQCG},
        {"slot", required_argument, 0, O_SLOT},     {"allow-locks", no_argument, 0, O_LOCKS},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0},
    };
    struct vd_sandbox_config cfg;
    struct vd_run_spec spec;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    struct vd_sandbox *sb = NULL;
    struct vd_box *box = NULL;
    const char *dir = NULL, *in_path = NULL, *out_path = NULL, *err_path = NULL, *meta = NULL;
    const char *binds[BOX_MAX_LIST + 1], *env[BOX_MAX_LIST + 8];
    int nbinds = 0, nenv = 0, wall_set = 0, slot = -1, ret = 2, rc = 0;
    uint64_t v;

    vd_sandbox_config_defaults(&cfg);
    cfg.slots = 1;
    vd_run_spec_init(&spec);
    vd_run_result_init(&res);
    for (int i = 0; vd_sandbox_default_env[i]; i++)
        env[nenv++] = vd_sandbox_default_env[i];

    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "+h", opts, NULL)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_TIME:
            bad = parse_sec_ms(optarg, &spec.limits.cpu_ms);
            break;
        case O_WALL:
            bad = parse_sec_ms(optarg, &spec.limits.wall_ms);
            wall_set = 1;
            break;
        case O_MEM:
            bad = parse_u64(optarg, 1u << 20, &v);
            spec.limits.memory_kb = v * 1024;
            break;
        case O_PROCS:
            bad = parse_u64(optarg, 1u << 20, &v) || v == 0;
            spec.limits.procs = (uint32_t)v;
            break;
        case O_OUTPUT:
            bad = parse_u64(optarg, 1u << 30, &spec.limits.output_kb);
            break;
        case O_FSIZE:
            bad = parse_u64(optarg, 1u << 30, &spec.limits.fsize_kb);
            break;
        case O_STACK:
            bad = parse_u64(optarg, 1u << 30, &spec.limits.stack_kb);
            break;
        case O_NOFILE:
            bad = parse_u64(optarg, 1u << 20, &v) || v < 4;
            spec.limits.nofile = (uint32_t)v;
            break;
        case O_DIR:
            dir = optarg;
            break;
        case O_STDIN:
            in_path = optarg;
            break;
        case O_STDOUT:
            out_path = optarg;
            break;
        case O_STDERR:
            err_path = optarg;
            break;
        case O_META:
            meta = optarg;
            break;
        case O_BIND:
            bad = nbinds >= BOX_MAX_LIST;
            if (!bad)
                binds[nbinds++] = optarg;
            break;
        case O_ENV:
            bad = nenv >= BOX_MAX_LIST || !strchr(optarg, '=') || optarg[0] == '=';
            if (!bad) {
                size_t klen = (size_t)(strchr(optarg, '=') - optarg) + 1;
                int j = 0;
                while (j < nenv && strncmp(env[j], optarg, klen) != 0)
                    j++;
                env[j] = optarg; /* a default of the same name is replaced */
                if (j == nenv)
                    nenv++;
            }
            break;
        case O_CWD:
            spec.cwd = optarg;
            break;
        case O_MODE:
            bad = vd_sandbox_mode_parse(optarg, &cfg.mode) < 0;
            break;
        case O_REQCG:
            cfg.require_cgroup = 1;
            break;
        case O_SLOT:
            bad = parse_u64(optarg, VD_SANDBOX_MAX_SLOTS - 1, &v);
            slot = (int)v;
            break;
        case O_LOCKS:
            spec.flags |= VD_RUN_ALLOW_LOCKS;
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "verdict box: bad value for --%s: \"%s\"\n", opts[c - O_TIME].name,
                    optarg ? optarg : "");
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "verdict box: no program given (put it after --)\n");
        usage(stderr);
        return 2;
    }
    if (!wall_set)
        spec.limits.wall_ms = spec.limits.cpu_ms ? 2 * spec.limits.cpu_ms + 1000 : 0;
    binds[nbinds] = NULL;
    env[nenv] = NULL;
    cfg.extra_binds = nbinds ? binds : NULL;
    spec.envp = env;
    spec.argv = (const char *const *)(argv + optind);

    if (in_path) {
        /* A sealed copy: the program sees neither the host path nor a file
         * it could reopen for writing. */
        int fd = open(in_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (rc = vd_sandbox_sealed_input(fd, BOX_STDIN_MAX, &spec.stdin_fd)) < 0) {
            fprintf(stderr, "verdict box: %s: %s\n", in_path,
                    fd < 0 ? strerror(errno) : vd_strerror(rc));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    }
    if ((out_path && open_out(out_path, &spec.stdout_fd) < 0) ||
        (err_path && open_out(err_path, &spec.stderr_fd) < 0))
        goto out;
    if (!out_path)
        spec.stdout_fd = 1;
    if (!err_path)
        spec.stderr_fd = 2;

    /* The first free slot, unless one was named: each holds a lock, so
     * several `verdict box` can run side by side without sharing a uid. */
    (void)!vd_cmd_open_sandbox(&cfg, slot, &sb, &eb);
    if (!sb) {
        res.status = VD_RUN_IE;
        /* No sandbox, so nothing was enforced: "none" is the honest mode. */
        res.mode = VD_SANDBOX_NONE;
        snprintf(res.message, sizeof(res.message), "%s", eb.msg[0] ? eb.msg : "no free slot");
        fprintf(stderr, "verdict box: %s\n", res.message);
        ret = write_meta(meta, &res);
        goto out;
    }
    if ((rc = vd_box_acquire(sb, 0, -1, &box, &eb)) < 0 ||
        (dir && (rc = vd_box_copy_dir(box, dir, &eb)) < 0)) {
        res.status = VD_RUN_IE;
        res.mode = vd_sandbox_get_mode(sb);
        snprintf(res.message, sizeof(res.message), "%s", eb.msg[0] ? eb.msg : vd_strerror(rc));
        fprintf(stderr, "verdict box: %s\n", res.message);
        ret = write_meta(meta, &res);
        goto out;
    }
    rc = vd_box_run(box, &spec, &res);
    if (rc < 0) {
        fprintf(stderr, "verdict box: %s\n", vd_strerror(rc));
        ret = 2;
        goto out;
    }
    ret = write_meta(meta, &res);
out:
    vd_box_release(box);
    vd_sandbox_close(sb);
    vd_run_result_free(&res);
    if (spec.stdin_fd >= 0)
        close(spec.stdin_fd);
    if (out_path && spec.stdout_fd >= 0)
        close(spec.stdout_fd);
    if (err_path && spec.stderr_fd >= 0)
        close(spec.stderr_fd);
    return ret;
}

/*
 * serve.c - `verdict serve` (the HTTP API and, by default, the workers in
 * the same process) and `verdict worker` (workers only).
 *
 * Start-up, in order, each step refusing to start with a sentence that
 * names what failed: settings (defaults, config file, environment, flags:
 * later wins), the language table and its toolchains, the sandbox pool and
 * a self-test run in it, the judge with its compile cache, the store (and
 * its migrations), the queue, recovery of the jobs a dead process left
 * running (serve only: on one node whatever was running at start belonged
 * to a process that is gone), the event hub, the workers, the API and the
 * HTTP server. Then one line on stdout, "verdict: listening on URL", which
 * scripts wait for.
 *
 * A retention sweep deletes old finished submissions when retention_s is
 * set. SIGINT or SIGTERM stops the process in the reverse order: the HTTP
 * server (long waits end first), the workers (running jobs go back to the
 * queue), then the rest. The signal handler only writes to a pipe; the
 * main thread does the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "vd/api.h"
#include "vd/auth.h"
#include "vd/clock.h"
#include "vd/cluster.h"
#include "vd/config.h"
#include "vd/events.h"
#include "vd/http.h"
#include "vd/judge.h"
#include "vd/lang.h"
#include "vd/log.h"
#include "vd/queue.h"
#include "vd/store.h"
#include "vd/webhook.h"
#include "vd/worker.h"

#define DEFAULT_CONFIG "/etc/verdict/verdict.conf"
#define PROBE_MS 30000
#define SWEEP_MAX_S 60

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    (void)!write(signal_pipe[1], &c, 1);
    errno = saved;
}

static int install_signals(void)
{
    struct sigaction sa;
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-answer is an error return */
    return 0;
}

/* ---- the retention sweep ------------------------------------------------- */

struct sweeper {
    struct vd_store *store;
    int64_t retention_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t th;
    int started;
};

static void *sweep_main(void *arg)
{
    struct sweeper *s = arg;
    int64_t every = s->retention_s / 2;
    if (every < 1)
        every = 1;
    if (every > SWEEP_MAX_S)
        every = SWEEP_MAX_S;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += every;
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        uint64_t n = 0;
        int rc = vd_store_sweep(s->store, vd_now_ms() - s->retention_s * 1000, &n);
        if (rc < 0)
            vd_log(VD_LOG_WARN, "sweep", "retention sweep failed: %s", vd_strerror(rc));
        else if (n)
            vd_log(VD_LOG_INFO, "sweep", "deleted=%llu older_than_s=%lld", (unsigned long long)n,
                   (long long)s->retention_s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void sweeper_start(struct sweeper *s, struct vd_store *store, int64_t retention_s)
{
    memset(s, 0, sizeof(*s));
    s->store = store;
    s->retention_s = retention_s;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (retention_s > 0 && pthread_create(&s->th, NULL, sweep_main, s) == 0)
        s->started = 1;
}

static void sweeper_stop(struct sweeper *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->th, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* ---- settings -------------------------------------------------------------- */

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: verdict %s [OPTIONS]\n"
            "\n"
            "%s\n"
            "\n"
            "  --config FILE     settings file (default " DEFAULT_CONFIG " when it exists)\n"
            "  --listen ADDR     host:port of the HTTP API (port 0: any free one)\n"
            "  --database URL    sqlite:PATH (the default) or postgres://...\n"
            "  --redis URL       redis://HOST:PORT: Redis Streams queue, for many nodes\n"
            "  --role ROLE       all (the default: API and workers) or api (HTTP only)\n"
            "  --workers N       sandbox slots, so jobs judged at once (0: one per CPU)\n"
            "  --cache DIR       the compile cache\n"
            "  --langs DIR       the language directory\n"
            "  --mode MODE       sandbox mode: auto, cgroup2, cgroup1, none\n"
            "  --set KEY=VALUE   any other setting (see below)\n"
            "  --dump-config     print the settings in effect and exit\n"
            "\n"
            "Settings, lowest first: defaults, the config file, the environment\n"
            "(VERDICT_<KEY>), these options. Every setting:\n\n",
            cmd,
            strcmp(cmd, "serve") == 0
                ? "Serves the HTTP API with workers in the same process: one machine, nothing\n"
                  "else to run. Must run as root (the sandbox needs it)."
                : "Runs workers only: they take jobs from the queue of a store shared with\n"
                  "`verdict serve` and judge them. Must run as root.");
    vd_config_help(f, 0);
}

/* Loads settings; 0, 1 after --help/--dump-config (exit 0), -1 on error. */
static int settings(int argc, char **argv, const char *cmd, struct vd_config *c)
{
    enum {
        O_CONFIG = 1000,
        O_LISTEN,
        O_DB,
        O_WORKERS,
        O_CACHE,
        O_LANGS,
        O_MODE,
        O_SET,
        O_REDIS,
        O_ROLE,
        O_DUMP,
        O_HELP
    };
    static const struct option opts[] = {
        {"config", required_argument, 0, O_CONFIG},
        {"listen", required_argument, 0, O_LISTEN},
        {"database", required_argument, 0, O_DB},
        {"workers", required_argument, 0, O_WORKERS},
        {"cache", required_argument, 0, O_CACHE},
        {"langs", required_argument, 0, O_LANGS},
        {"mode", required_argument, 0, O_MODE},
        {"set", required_argument, 0, O_SET},
        {"redis", required_argument, 0, O_REDIS},
        {"role", required_argument, 0, O_ROLE},
        {"dump-config", no_argument, 0, O_DUMP},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    static const struct {
        int opt;
        const char *key;
    } direct[] = {{O_LISTEN, "listen"},   {O_DB, "database_url"}, {O_WORKERS, "workers"},
                  {O_CACHE, "cache_dir"}, {O_LANGS, "langs_dir"}, {O_MODE, "sandbox_mode"},
                  {O_REDIS, "redis_url"}, {O_ROLE, "role"}};
    struct {
        const char *key;
        char *value;
    } later[64];
    size_t nlater = 0;
    const char *file = NULL;
    struct vd_errbuf eb = {""};
    int dump = 0, rc = -1;

    vd_config_defaults(c);
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (o == O_CONFIG) {
            file = optarg;
            continue;
        }
        if (o == O_DUMP) {
            dump = 1;
            continue;
        }
        if (o == 'h' || o == O_HELP) {
            usage(stdout, cmd);
            return 1;
        }
        if (nlater == sizeof(later) / sizeof(later[0])) {
            fprintf(stderr, "verdict %s: too many options\n", cmd);
            goto out;
        }
        if (o == O_SET) {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "verdict %s: --set takes KEY=VALUE, not \"%s\"\n", cmd, optarg);
                goto out;
            }
            *eq = '\0';
            later[nlater].key = optarg;
            later[nlater++].value = eq + 1;
            continue;
        }
        const char *key = NULL;
        for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++)
            if (direct[i].opt == o)
                key = direct[i].key;
        if (!key) {
            usage(stderr, cmd);
            goto out;
        }
        later[nlater].key = key;
        later[nlater++].value = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "verdict %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
        goto out;
    }
    if (!file && access(DEFAULT_CONFIG, R_OK) == 0)
        file = DEFAULT_CONFIG;
    if ((file && vd_config_load_file(c, file, &eb) < 0) || vd_config_load_env(c, &eb) < 0) {
        fprintf(stderr, "verdict %s: %s\n", cmd, eb.msg);
        goto out;
    }
    for (size_t i = 0; i < nlater; i++)
        if (vd_config_set(c, later[i].key, later[i].value, "the command line", &eb) < 0) {
            fprintf(stderr, "verdict %s: %s\n", cmd, eb.msg);
            goto out;
        }
    if (dump) {
        vd_config_dump(c, stdout);
        return 1;
    }
    enum vd_log_level lvl;
    if (vd_log_parse_level(c->log_level, &lvl) < 0) {
        fprintf(stderr, "verdict %s: log_level \"%s\": debug, info, warn, error or off\n", cmd,
                c->log_level);
        goto out;
    }
    vd_log_set_level(lvl);
    if (strcmp(c->role, "all") != 0 && strcmp(c->role, "api") != 0) {
        fprintf(stderr, "verdict %s: role \"%s\": all or api\n", cmd, c->role);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* ---- the process ----------------------------------------------------------- */

struct node {
    struct vd_config cfg;
    struct vd_langs *langs;
    struct vd_sandbox *sb;
    struct vd_judge *judge;
    struct vd_store *store;
    struct vd_queue *queue;
    struct vd_events *events;
    struct vd_workers *workers;
    struct vd_cluster *cluster; /* NULL without Redis */
    struct vd_api *api;
    struct vd_webhooks *webhooks;
    struct vd_http_server *http;
    unsigned char master[256];
    size_t master_len;
    char sandbox_error[VD_ERRBUF_SIZE];
    int sandbox_ok;
};

/* One real run in the pool: the sandbox works here, not only opened. */
static int self_test(struct node *n, struct vd_errbuf *eb)
{
    struct vd_box *box = NULL;
    struct vd_run_result rr;
    struct vd_run_spec s;
    int rc;

    vd_run_result_init(&rr);
    vd_run_spec_init(&s);
    s.argv = (const char *const[]){"true", NULL};
    s.limits.cpu_ms = 2000;
    s.limits.wall_ms = 5000;
    s.limits.memory_kb = 64 * 1024;
    if ((rc = vd_box_acquire(n->sb, 0, 10000, &box, eb)) == 0 &&
        (rc = vd_box_run(box, &s, &rr)) == 0 && rr.status != VD_RUN_OK)
        rc = vd_errf(eb, VD_ESANDBOX, "self-test run of true: %s", rr.message);
    vd_box_release(box);
    vd_run_result_free(&rr);
    return rc;
}

static int load_langs(struct node *n, struct vd_errbuf *eb)
{
    int rc = vd_langs_load(vd_cmd_langs_dir(n->cfg.langs_dir[0] ? n->cfg.langs_dir : NULL),
                           &n->langs, eb);
    if (rc == 0)
        vd_langs_probe(n->langs, NULL, PROBE_MS);
    return rc;
}

static int start_judge(struct node *n, struct vd_errbuf *eb)
{
    struct vd_sandbox_config sc;
    int rc;

    vd_sandbox_config_defaults(&sc);
    if (n->cfg.workers > 0)
        sc.slots = (int)n->cfg.workers;
    if (vd_sandbox_mode_parse(n->cfg.sandbox_mode, &sc.mode) < 0)
        return vd_errf(eb, VD_EINVAL, "sandbox_mode \"%s\": auto, cgroup2, cgroup1 or none",
                       n->cfg.sandbox_mode);
    sc.require_cgroup = n->cfg.require_cgroup;
    sc.extra_binds = vd_langs_binds(n->langs);
    if ((rc = vd_cmd_open_sandbox(&sc, -1, &n->sb, eb)) < 0)
        return rc;
    struct vd_errbuf st = {""};
    n->sandbox_ok = self_test(n, &st) == 0;
    if (!n->sandbox_ok) {
        snprintf(n->sandbox_error, sizeof(n->sandbox_error), "%s", st.msg);
        vd_log(VD_LOG_ERROR, "serve", "sandbox self-test failed: %s", st.msg);
    }
    /* The cache directory itself is made (root only) by the judge; its
     * parents here. */
    vd_cmd_make_parents(n->cfg.cache_dir);
    struct vd_judge_config jc = {n->cfg.cache_dir, (uint64_t)n->cfg.cache_max_mb << 20, 0};
    return vd_judge_new(n->sb, &jc, &n->judge, eb);
}

static int start_store(struct node *n, int recover, struct vd_errbuf *eb)
{
    struct vd_queue_options qo = {(int)n->cfg.queue_lease_ms, n->cfg.node_name};
    int rc;
    vd_cmd_make_db_dir(n->cfg.database_url);
    if ((rc = vd_store_open(n->cfg.database_url, &n->store, eb)) < 0 ||
        (rc = vd_queue_open(n->cfg.redis_url, n->store, &qo, &n->queue, eb)) < 0)
        return rc;
    /* Redis's recovery is a sweep that is safe beside live workers; the
     * embedded queue's puts back every running job, so only serve runs it. */
    if (n->cfg.redis_url[0])
        recover = 1;
    if (recover) {
        uint64_t k = 0;
        if ((rc = vd_queue_recover(n->queue, &k)) < 0)
            return vd_errf(eb, rc, "recovering the jobs of a previous run: %s", vd_strerror(rc));
        if (k)
            vd_log(VD_LOG_INFO, "serve", "requeued=%llu (running when the last process ended)",
                   (unsigned long long)k);
    }
    return 0;
}

static void stop_node(struct node *n)
{
    vd_api_shutdown(n->api);
    vd_http_stop(n->http);
    vd_webhooks_stop(n->webhooks);
    vd_workers_stop(n->workers);
    vd_api_free(n->api);
    vd_cluster_close(n->cluster); /* its subscriber delivers to the hub */
    vd_queue_close(n->queue);
    vd_events_free(n->events);
    vd_store_close(n->store);
    vd_judge_free(n->judge);
    vd_sandbox_close(n->sb);
    vd_langs_free(n->langs);
    explicit_bzero(n->master, sizeof(n->master));
}

static void webhook_secret(void *arg, const char *owner, char *out, size_t cap)
{
    vd_api_webhook_secret(arg, owner, out, cap);
}

/* One API node makes each delivery attempt: the first to take its lock,
 * which outlives the attempt and is never released (the next attempt has
 * a lock of its own). Should Redis fail, this node makes it: at least
 * once, as without Redis. */
static int webhook_claim(void *arg, const char *id, int attempt)
{
    struct node *n = arg;
    char name[96], token[VD_CLUSTER_TOKEN_LEN + 1];
    snprintf(name, sizeof(name), "webhook:%s:%d", id, attempt);
    int rc = vd_cluster_lock(n->cluster, name, (int)n->cfg.webhook_timeout_ms + 60000, 0, token);
    return rc != VD_ETIMEDOUT;
}

/* Blocks until SIGINT or SIGTERM. */
static void wait_for_signal(void)
{
    struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
    unsigned char c = 0;
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    (void)!read(signal_pipe[0], &c, 1);
    vd_log(VD_LOG_INFO, "serve", "signal=%d stopping", (int)c);
}

static int run_node(int argc, char **argv, const char *cmd, int with_http)
{
    struct node n;
    struct vd_errbuf eb = {""};
    struct sweeper sw;
    int ret = 1, rc = VD_EINVAL;

    memset(&n, 0, sizeof(n));
    vd_log_set_role(cmd);
    if ((rc = settings(argc, argv, cmd, &n.cfg)) != 0)
        return rc > 0 ? 0 : 2;
    if (geteuid() != 0) {
        fprintf(stderr, "verdict %s: must run as root (the sandbox needs it)\n", cmd);
        return 1;
    }
    if (vd_auth_init() < 0) {
        fprintf(stderr, "verdict %s: libsodium did not initialise\n", cmd);
        return 1;
    }
    /* serve --role api: HTTP only, the jobs run on `verdict worker` hosts. */
    int with_workers = !with_http || strcmp(n.cfg.role, "api") != 0;
    const char *role = !with_http ? "worker" : with_workers ? "all" : "api";
    if (install_signals() < 0 || load_langs(&n, &eb) < 0 ||
        (with_workers && start_judge(&n, &eb) < 0) || start_store(&n, with_http, &eb) < 0)
        goto fail;
    if (with_http &&
        (rc = vd_cmd_master_secret(&n.cfg, n.master, sizeof(n.master), &n.master_len, &eb)) < 0)
        goto fail;
    /* A worker-only process has a hub too when there is Redis: its frames
     * go out through the relay to every API node. */
    n.events = with_http || n.cfg.redis_url[0] ? vd_events_new() : NULL;
    struct vd_worker_config wc = {
        with_workers ? vd_sandbox_slots(n.sb) : 0, n.store, n.queue, n.judge, n.langs, n.events};
    if (with_workers && (rc = vd_workers_start(&wc, &n.workers, &eb)) < 0)
        goto fail;
    if (n.cfg.redis_url[0] &&
        ((rc = vd_cluster_open(n.cfg.redis_url, n.cfg.node_name, role, &n.cluster, &eb)) < 0 ||
         (rc = vd_cluster_start(n.cluster, n.events, with_http, n.workers, &eb)) < 0))
        goto fail;
    if (with_http) {
        struct vd_api_config ac = {
            .cfg = &n.cfg,
            .store = n.store,
            .queue = n.queue,
            .langs = n.langs,
            .events = n.events,
            .workers = n.workers,
            .cluster = n.cluster,
            .role = role,
            .sandbox_mode = n.sb ? vd_sandbox_mode_name(vd_sandbox_get_mode(n.sb)) : "remote",
            .sandbox_slots = n.sb ? vd_sandbox_slots(n.sb) : 0,
            .sandbox_ok = n.sb ? n.sandbox_ok : 1,
            .sandbox_error = !n.sb || n.sandbox_ok ? NULL : n.sandbox_error,
            .master = n.master,
            .master_len = n.master_len,
        };
        if ((rc = vd_api_new(&ac, &n.api, &eb)) < 0)
            goto fail;
        struct vd_webhook_config whc = {
            .store = n.store,
            .threads = (int)n.cfg.webhook_threads,
            .max_attempts = (int)n.cfg.webhook_max_attempts,
            .timeout_ms = (int)n.cfg.webhook_timeout_ms,
            .backoff_ms = (int)n.cfg.webhook_backoff_ms,
            .allow_private = n.cfg.webhook_allow_private,
            .secret_for = webhook_secret,
            .secret_arg = n.api,
            .claim = n.cluster ? webhook_claim : NULL,
            .claim_arg = &n,
        };
        if ((rc = vd_webhooks_start(&whc, &n.webhooks, &eb)) < 0)
            goto fail;
        struct vd_http_config hc = {n.cfg.listen, (size_t)n.cfg.body_max_kb * 1024,
                                    (unsigned)n.cfg.http_connections, 60};
        if ((rc = vd_http_start(&hc, vd_api_handle, n.api, &n.http, &eb)) < 0)
            goto fail;
    }
    sweeper_start(&sw, n.store, with_http ? n.cfg.retention_s : 0);
    char db_shown[VD_CONFIG_STR_MAX], queue_shown[VD_CONFIG_STR_MAX];
    vd_log(VD_LOG_INFO, cmd, "role=%s workers=%d sandbox=%s languages=%zu/%zu store=%s queue=%s",
           role, wc.threads, n.sb ? vd_sandbox_mode_name(vd_sandbox_get_mode(n.sb)) : "remote",
           vd_langs_available(n.langs), vd_langs_count(n.langs),
           vd_cmd_redact(n.cfg.database_url, db_shown, sizeof(db_shown)),
           n.cfg.redis_url[0] ? vd_cmd_redact(n.cfg.redis_url, queue_shown, sizeof(queue_shown))
                              : "embedded");
    if (with_http) {
        char host[VD_CONFIG_STR_MAX];
        snprintf(host, sizeof(host), "%s", n.cfg.listen);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
            snprintf(host, sizeof(host), "127.0.0.1");
        printf("verdict: listening on http://%s:%d\n", host, vd_http_port(n.http));
    } else {
        printf("verdict: worker running with %d slots\n", wc.threads);
    }
    fflush(stdout);
    wait_for_signal();
    sweeper_stop(&sw);
    ret = 0;
    goto out;
fail:
    fprintf(stderr, "verdict %s: %s\n", cmd, eb.msg[0] ? eb.msg : vd_strerror(rc));
out:
    stop_node(&n);
    return ret;
}

int vd_cmd_serve(int argc, char **argv)
{
    return run_node(argc, argv, "serve", 1);
}

int vd_cmd_worker(int argc, char **argv)
{
    return run_node(argc, argv, "worker", 0);
}

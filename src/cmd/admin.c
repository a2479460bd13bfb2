/*
 * admin.c - `verdict admin`: API keys and users, straight in the store.
 *
 *   verdict admin keys create --name N [--role admin|client] [--tier T] [--allow CIDR]...
 *   verdict admin keys ensure --name N [--role ...]   the live key named N, made if missing
 *   verdict admin keys list
 *   verdict admin keys revoke ID
 *   verdict admin users create --username U --email E --password P [--role admin] [--tier T]
 *
 * Each takes --config FILE, --database URL and --set KEY=VALUE, and reads
 * the settings as `verdict serve` does (the same store, the same master
 * secret). It prints JSON on stdout. A key's secret is printed when the
 * key is made, and by `ensure`: with the master secret at hand, this
 * command can give it again (secrets are derived, never stored), which the
 * API never does.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/auth.h"
#include "vd/config.h"
#include "vd/store.h"

#define DEFAULT_CONFIG "/etc/verdict/verdict.conf"
#define ALLOW_MAX 16

static void usage(FILE *f)
{
    fprintf(f, "usage: verdict admin keys create --name N [--role admin|client] [--tier T]\n"
               "                                 [--allow CIDR]...\n"
               "       verdict admin keys ensure --name N [--role admin|client] [--tier T]\n"
               "       verdict admin keys list\n"
               "       verdict admin keys revoke ID\n"
               "       verdict admin users create --username U --email E --password P\n"
               "                                  [--role user|admin] [--tier T]\n"
               "\n"
               "Every command also takes --config FILE, --database URL and --set KEY=VALUE,\n"
               "read as verdict serve reads them (serve's other options are accepted and\n"
               "ignored). Output is JSON.\n");
}

static void print(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    if (s)
        printf("%s\n", s);
    vd_free(s);
    json_decref(o);
}

int vd_cmd_admin(int argc, char **argv)
{
    enum {
        O_CONFIG = 1000,
        O_DB,
        O_SET,
        O_NAME,
        O_ROLE,
        O_TIER,
        O_ALLOW,
        O_USER,
        O_EMAIL,
        O_PW,
        O_HELP,
        O_IGNORED
    };
    static const struct option opts[] = {
        {"config", required_argument, 0, O_CONFIG},
        {"database", required_argument, 0, O_DB},
        {"set", required_argument, 0, O_SET},
        {"name", required_argument, 0, O_NAME},
        {"role", required_argument, 0, O_ROLE},
        {"tier", required_argument, 0, O_TIER},
        {"allow", required_argument, 0, O_ALLOW},
        {"username", required_argument, 0, O_USER},
        {"email", required_argument, 0, O_EMAIL},
        {"password", required_argument, 0, O_PW},
        {"help", no_argument, 0, O_HELP},
        /* verdict serve's own options, taken and ignored, so that the command
         * line of a server can be given as it is (scripts/run.sh does). */
        {"listen", required_argument, 0, O_IGNORED},
        {"workers", required_argument, 0, O_IGNORED},
        {"cache", required_argument, 0, O_IGNORED},
        {"langs", required_argument, 0, O_IGNORED},
        {"mode", required_argument, 0, O_IGNORED},
        {0, 0, 0, 0},
    };
    struct vd_config cfg;
    struct vd_errbuf eb = {""};
    struct vd_store *store = NULL;
    const char *file = NULL, *db = NULL, *name = NULL, *role = NULL, *tier = NULL;
    const char *user = NULL, *email = NULL, *pw = NULL;
    char allow[512] = "", *sets[32];
    unsigned char master[256];
    size_t master_len = 0, nsets = 0;
    int ret = 2;

    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (o) {
        case O_CONFIG:
            file = optarg;
            break;
        case O_DB:
            db = optarg;
            break;
        case O_SET:
            if (nsets == sizeof(sets) / sizeof(sets[0]))
                goto usage_error;
            sets[nsets++] = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_ROLE:
            role = optarg;
            break;
        case O_TIER:
            tier = optarg;
            break;
        case O_ALLOW: {
            size_t used = strlen(allow);
            if (used + strlen(optarg) + 2 >= sizeof(allow))
                goto usage_error;
            snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? "," : "", optarg);
            break;
        }
        case O_USER:
            user = optarg;
            break;
        case O_EMAIL:
            email = optarg;
            break;
        case O_PW:
            pw = optarg;
            break;
        case O_IGNORED:
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            goto usage_error;
        }
    }
    if (optind + 2 > argc)
        goto usage_error;
    const char *what = argv[optind], *verb = argv[optind + 1];

    vd_config_defaults(&cfg);
    if (!file && access(DEFAULT_CONFIG, R_OK) == 0)
        file = DEFAULT_CONFIG;
    if ((file && vd_config_load_file(&cfg, file, &eb) < 0) || vd_config_load_env(&cfg, &eb) < 0 ||
        (db && vd_config_set(&cfg, "database_url", db, "--database", &eb) < 0))
        goto fail;
    for (size_t i = 0; i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq)
            goto usage_error;
        *eq = '\0';
        if (vd_config_set(&cfg, sets[i], eq + 1, "--set", &eb) < 0)
            goto fail;
    }
    if (vd_auth_init() < 0) {
        snprintf(eb.msg, sizeof(eb.msg), "libsodium did not initialise");
        goto fail;
    }
    vd_cmd_make_db_dir(cfg.database_url);
    if (vd_store_open(cfg.database_url, &store, &eb) < 0 ||
        vd_cmd_master_secret(&cfg, master, sizeof(master), &master_len, &eb) < 0)
        goto fail;
    ret = 1;

    /* A tier named must be one of rate_tiers, as the API insists. */
    if (tier) {
        struct vd_auth_tier tiers[VD_AUTH_TIERS_MAX];
        size_t nt = 0, known = 0;
        if (vd_auth_tiers_parse(cfg.rate_tiers, tiers, &nt, &eb) < 0)
            goto fail;
        for (size_t i = 0; i < nt; i++)
            known |= strcmp(tiers[i].name, tier) == 0;
        if (!known) {
            snprintf(eb.msg, sizeof(eb.msg), "no tier \"%.40s\" in rate_tiers (%.160s)", tier,
                     cfg.rate_tiers);
            goto fail;
        }
    }
    if (strcmp(what, "keys") == 0 && (!strcmp(verb, "create") || !strcmp(verb, "ensure"))) {
        struct vd_key k, *keys = NULL;
        char secret[VD_AUTH_KEY_SECRET_LEN + 1];
        size_t n = 0;
        if (!name)
            goto usage_error;
        int found = 0;
        if (!strcmp(verb, "ensure") && vd_store_key_list(store, &keys, &n) == 0)
            for (size_t i = 0; i < n && !found; i++)
                if (!keys[i].revoked_ms && strcmp(keys[i].name, name) == 0 &&
                    (!role || strcmp(keys[i].role, role) == 0)) {
                    k = keys[i];
                    vd_auth_key_secret(master, master_len, k.id, secret);
                    found = 1;
                }
        vd_free(keys);
        if (!found && vd_api_key_create(store, master, master_len, name, role ? role : "client",
                                        tier ? tier : cfg.default_tier, allow, &k, secret,
                                        sizeof(secret), &eb) < 0)
            goto fail;
        json_t *o = vd_api_key_view(&k);
        json_object_set_new(o, "secret", json_string(secret));
        print(o);
        ret = 0;
    } else if (strcmp(what, "keys") == 0 && strcmp(verb, "list") == 0) {
        struct vd_key *keys = NULL;
        size_t n = 0;
        if (vd_store_key_list(store, &keys, &n) < 0) {
            snprintf(eb.msg, sizeof(eb.msg), "cannot list the keys");
            goto fail;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, vd_api_key_view(&keys[i]));
        vd_free(keys);
        print(json_pack("{s:o}", "keys", arr));
        ret = 0;
    } else if (strcmp(what, "keys") == 0 && strcmp(verb, "revoke") == 0) {
        struct vd_key k;
        if (optind + 3 != argc)
            goto usage_error;
        int rc = vd_store_key_revoke(store, argv[optind + 2]);
        if (rc < 0 && rc != VD_EINVAL) {
            snprintf(eb.msg, sizeof(eb.msg), "key %s: %s", argv[optind + 2], vd_strerror(rc));
            goto fail;
        }
        if (vd_store_key_get(store, argv[optind + 2], &k) == 0)
            print(vd_api_key_view(&k));
        ret = 0;
    } else if (strcmp(what, "users") == 0 && strcmp(verb, "create") == 0) {
        struct vd_user u;
        if (!user || !email || !pw)
            goto usage_error;
        if (vd_api_user_check(user, email, pw, &eb) < 0)
            goto fail;
        memset(&u, 0, sizeof(u));
        snprintf(u.username, sizeof(u.username), "%s", user);
        snprintf(u.email, sizeof(u.email), "%s", email);
        snprintf(u.role, sizeof(u.role), "%s", role ? role : "user");
        snprintf(u.tier, sizeof(u.tier), "%s", tier ? tier : cfg.default_tier);
        if (strlen(pw) < 8 || vd_auth_password_hash(pw, u.password_hash) < 0) {
            snprintf(eb.msg, sizeof(eb.msg), "the password needs 8 bytes or more");
            goto fail;
        }
        int rc = vd_store_user_create(store, &u);
        if (rc < 0) {
            snprintf(eb.msg, sizeof(eb.msg), "%s",
                     rc == -EEXIST ? "that username or email is taken" : vd_strerror(rc));
            goto fail;
        }
        print(json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", u.id, "username", u.username,
                        "email", u.email, "role", u.role, "tier", u.tier));
        ret = 0;
    } else {
        goto usage_error;
    }
    goto out;
usage_error:
    usage(stderr);
    ret = 2;
    goto out;
fail:
    fprintf(stderr, "verdict admin: %s\n", eb.msg[0] ? eb.msg : "failed");
    ret = 1;
out:
    explicit_bzero(master, sizeof(master));
    vd_store_close(store);
    return ret;
}

/*
 * 16-setuid: attack class "setuid / file-capability binaries" (row 16).
 *
 * "check": prints its real/effective/saved ids, capability sets and
 * no_new_privs, and exits 0 only when it runs as an unprivileged box uid
 * with no capabilities at all (effective, permitted, inheritable, ambient
 * and bounding) and NoNewPrivs set.
 * main (no argument): runs "check" on itself, then execs the setuid-root
 * copy run.sh placed in /box (/box/suid, mode 4755 owned by root on the
 * host, and /box/sgid, 2755 group root) with "check": euid must still be
 * the box uid. Then starts /usr/bin/su (setuid root on the host), which
 * blocks asking for a password on its stdin, and reads its ids from
 * /proc/PID/status: they must all be the box uid.
 */
#include "common.h"

static int check(const char *who)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    getresuid(&r, &e, &s);
    getresgid(&rg, &eg, &sg);
    printf("%s: uid=%d/%d/%d gid=%d/%d/%d\n", who, r, e, s, rg, eg, sg);
    int bad = (r == 0 || e == 0 || s == 0 || rg == 0 || eg == 0 || sg == 0 || r != e || r != s);
    if (r < 60000 || r > 60255)
        printf("uid %d is not a box uid (60000-60255)\n", r), bad = 1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs", 10) == 0 ||
            strncmp(line, "Seccomp", 7) == 0 || strncmp(line, "Groups", 6) == 0) {
            printf("%s: %s", who, line);
            char *v = strchr(line, ':') + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strncmp(line, "Cap", 3) == 0 && strtoull(v, NULL, 16) != 0)
                bad = 1;
            if (strncmp(line, "NoNewPrivs", 10) == 0 && atoi(v) != 1)
                bad = 1;
            if (strncmp(line, "Seccomp:", 8) == 0 && atoi(v) != 2)
                bad = 1;
            /* Supplementary groups would open group-readable host files. */
            if (strncmp(line, "Groups:", 7) == 0)
                for (char *q = v; *q && *q != '\n';) {
                    long g = strtol(q, &q, 10);
                    if ((gid_t)g != rg)
                        bad = 1;
                    while (*q == ' ')
                        q++;
                }
        }
    }
    if (f)
        fclose(f);
    printf("%s: %s\n", who, bad ? "PRIVILEGED" : "unprivileged");
    fflush(stdout);
    return bad;
}

static int run(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        printf("%s: mode %o owner %d:%d\n", path, st.st_mode & 07777, st.st_uid, st.st_gid);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        execl(path, path, "check", (char *)NULL);
        printf("exec %s: %s\n", path, strerrorname_np(errno));
        _exit(4);
    }
    int status;
    waitpid(p, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 5;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return check(argv[0]) ? 1 : 0;
    int bad = check("self");
    for (const char *const *p = (const char *const[]){"/box/suid", "/box/sgid", NULL}; *p; p++) {
        int rc = run(*p);
        if (rc == 4)
            printf("(%s missing)\n", *p);
        else if (rc != 0)
            bad = 1;
    }

    /* A real setuid-root binary of the host, kept blocked on a password. */
    int in[2];
    if (pipe(in) == 0) {
        pid_t p = fork();
        if (p == 0) {
            dup2(in[0], 0);
            close(in[1]);
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl("/usr/bin/su", "su", "root", "-c", "true", (char *)NULL);
            _exit(4);
        }
        close(in[0]);
        usleep(400000);
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)p);
        FILE *f = fopen(path, "r");
        int seen = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "Uid:", 4) == 0 || strncmp(line, "CapEff:", 7) == 0 ||
                strncmp(line, "Name:", 5) == 0) {
                printf("su: %s", line);
                if (line[0] == 'U') {
                    unsigned a, b, c, d;
                    sscanf(line + 4, "%u %u %u %u", &a, &b, &c, &d);
                    seen = 1;
                    if (a != getuid() || b != getuid() || c != getuid() || d != getuid()) {
                        printf("su GAINED PRIVILEGE\n");
                        bad = 1;
                    }
                }
            }
        }
        if (f)
            fclose(f);
        if (!seen)
            printf("su: already gone (could not read its status)\n");
        kill(p, SIGKILL);
        close(in[1]);
        waitpid(p, NULL, 0);
    }
    printf("failures=%d\n", bad);
    return bad;
}

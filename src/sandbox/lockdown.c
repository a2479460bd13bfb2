/*
 * lockdown.c - the last steps of the program before exec: limits,
 * credentials, capabilities, no_new_privs, seccomp.
 *
 * Runs in the program process, forked by the box init, as root of the host
 * user namespace but already inside the box's namespaces and root. The order
 * matters: rlimits and the capability bounding set need privileges, so they
 * come before the uid switch; seccomp comes last so that the filter never
 * has to allow the set-up calls themselves. No heap, no locks (see
 * sandbox-int.h).
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox-int.h"

/* v == 0 means "no limit" here, as in struct vd__rlimits; a real zero is
 * set with setrlimit() directly. */
static int set_rlimit(int res, uint64_t v)
{
    struct rlimit r;
    r.rlim_cur = r.rlim_max = v ? (rlim_t)v : RLIM_INFINITY;
    return setrlimit(res, &r) < 0 ? -errno : 0;
}

int vd__lockdown(const struct vd__box_params *p, const struct vd__rlimits *rl, unsigned flags,
                 int *stage)
{
    int rc;
    struct rlimit cpu;

    *stage = VD__STAGE_RLIMIT;
    /* RLIMIT_CPU: soft limit sends SIGXCPU, hard SIGKILL one second later;
     * the supervisor's cgroup polling usually ends the run first, this is
     * the backstop that holds even if the supervisor stalls. */
    cpu.rlim_cur = rl->cpu_s ? (rlim_t)rl->cpu_s : RLIM_INFINITY;
    cpu.rlim_max = rl->cpu_s ? (rlim_t)rl->cpu_s + 1 : RLIM_INFINITY;
    if (setrlimit(RLIMIT_CPU, &cpu) < 0)
        return -errno;
    if ((rc = set_rlimit(RLIMIT_AS, rl->as)) < 0 ||         /* memory in mode none */
        (rc = set_rlimit(RLIMIT_FSIZE, rl->fsize)) < 0 ||   /* disk and output files */
        (rc = set_rlimit(RLIMIT_STACK, rl->stack)) < 0 ||   /* huge stacks */
        (rc = set_rlimit(RLIMIT_NOFILE, rl->nofile)) < 0 || /* fd floods */
        /* Counts per uid host-wide: safe only because the slot uid is used
         * by nothing else (fork and thread bombs in mode none). */
        (rc = set_rlimit(RLIMIT_NPROC, rl->nproc)) < 0)
        return rc;
    /* No core files (disk, and memory contents leaving the box), no locked
     * memory, no real-time scheduling to starve the host, no message queue
     * memory beyond the default. */
    if (setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) < 0 ||
        setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){0, 0}) < 0 ||
        setrlimit(RLIMIT_RTPRIO, &(struct rlimit){0, 0}) < 0 ||
        setrlimit(RLIMIT_MSGQUEUE, &(struct rlimit){0, 0}) < 0)
        return -errno;

    *stage = VD__STAGE_CAPS;
    /* Empty the bounding set so no exec (a file capability, a setuid binary
     * on a mount we missed) can ever give a capability back. */
    for (int cap = 0; cap <= p->cap_last; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    /* uid 0 keeps no special meaning, locked so it cannot be undone. */
    if (prctl(PR_SET_SECUREBITS,
              SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0) < 0)
        return -errno;

    *stage = VD__STAGE_CREDS;
    /* Supplementary groups first (root's would otherwise stay), then gid,
     * then uid: after setresuid we could no longer change the others. The
     * uid switch from 0 clears the permitted and effective capability sets. */
    if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
        setresuid(p->uid, p->uid, p->uid) < 0)
        return -errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;

    *stage = VD__STAGE_SECCOMP;
    /* no_new_privs: setuid bits and file capabilities stop working on exec,
     * and it lets an unprivileged process load the filter. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    const struct vd__filter *f = (flags & VD_RUN_ALLOW_LOCKS) ? p->filter_locks : p->filter;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f->prog, 0, 0) < 0)
        return -errno;
    *stage = VD__STAGE_NONE;
    return 0;
}

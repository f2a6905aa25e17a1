/*
 * sandpod-spawn: starts one process of a container inside the guest, the way an OCI runtime would.
 *
 *   sandpod-spawn [--new | --join PID] --root DIR [--cwd DIR] [--cgroup DIR] [--uid N] [--gid N]
 *                 [--groups N,N,...] [--caps HEXMASK] [--no-new-privs]
 *                 [--mask PATH]... [--ro PATH]... [--seccomp FILE [--seccomp-flags N]] -- ARGV...
 *
 * --new gives the process a new mount and PID namespace (a container's first process: PID 1 in its
 * namespace, with its own /proc); --join PID enters the namespaces another sandpod-spawn created (PID is
 * that spawn's own pid), as an exec into a running container does. With --new, each --mask PATH (below the
 * root) is hidden, a file behind /dev/null and a directory behind an empty read-only tmpfs, and each --ro
 * PATH made read-only, after the new /proc is mounted (as runc does with OCI maskedPaths and readonlyPaths);
 * a path that does not exist is skipped. The process is chrooted into --root,
 * put in --cgroup, limited to the capabilities in --caps (bounding, permitted, effective and inheritable
 * sets), and runs as --uid/--gid. --seccomp FILE is a classic BPF program (struct sock_filter[], compiled by the
 * shim from the container's OCI profile) loaded with seccomp(2), in runc's order: with --no-new-privs right
 * before exec, so the filter governs only the container's program; without it while the process still has
 * CAP_SYS_ADMIN (the kernel's condition for a filter without no_new_privs), before it changes user and drops
 * capabilities, so those steps must be allowed by the profile, as under runc. This program stays as the parent, forwards signals and exits the way
 * the process did, so the agent sees the container process's own exit code or signal.
 *
 * Node has no fork/setns/capset, hence C, built statically by the guest image builder with the host's gcc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL 125

static pid_t child = -1;

static void fail(const char *what, const char *arg) {
  fprintf(stderr, "sandpod-spawn: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  _exit(FAIL);
}

static void usage(const char *why) {
  fprintf(stderr, "sandpod-spawn: %s\n", why);
  _exit(FAIL);
}

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static long number(const char *s, const char *flag) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 0) usage(flag);
  return v;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  if (write(fd, text, strlen(text)) < 0) fail("cannot write", path);
  close(fd);
}

static void enter(const char *pid, const char *ns, int type) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  if (setns(fd, type) < 0) fail("cannot enter", path);
  close(fd);
}

static void set_groups(const char *list) {
  gid_t gids[64];
  size_t n = 0;
  char *copy = strdup(list), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save)) gids[n++] = (gid_t)number(t, "--groups");
  if (setgroups(n, gids) < 0) fail("setgroups", list);
  free(copy);
}

/* The filter, read before chroot (the file is the agent's): at most the kernel's BPF_MAXINSNS instructions. */
static struct sock_filter filter[4096];
static struct sock_fprog seccomp_prog;

static void read_seccomp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  ssize_t n = read(fd, filter, sizeof filter);
  if (n <= 0 || n % sizeof filter[0]) usage("--seccomp: not a BPF program");
  close(fd);
  seccomp_prog.len = (unsigned short)(n / sizeof filter[0]);
  seccomp_prog.filter = filter;
}

static void load_seccomp(unsigned long flags) {
  if (seccomp_prog.len && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &seccomp_prog) < 0) fail("cannot load the seccomp filter", NULL);
}

/* OCI maskedPaths and readonlyPaths, applied inside the new mount namespace: at most 64 of each. */
static const char *masks[64], *readonly[64];
static int n_masks, n_readonly;

static void add_path(const char **list, int *n, const char *path) {
  if (*n >= 64) usage("too many --mask or --ro paths");
  list[(*n)++] = path;
}

static void hide_and_protect(const char *root) {
  char path[4096];
  struct stat st;
  for (int k = 0; k < n_masks; k++) {
    snprintf(path, sizeof path, "%s%s", root, masks[k]);
    if (lstat(path, &st) < 0) continue;
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0") : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (r < 0) fail("cannot mask", masks[k]);
  }
  for (int k = 0; k < n_readonly; k++) {
    snprintf(path, sizeof path, "%s%s", root, readonly[k]);
    if (lstat(path, &st) < 0) continue;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 || mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) fail("cannot make read-only", readonly[k]);
  }
}

/* Before the uid changes: dropping from the bounding set needs CAP_SETPCAP. */
static void limit_bounding(unsigned long long mask) {
  for (int c = 0; c < 64; c++) {
    if (mask & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) fail("cannot drop capability from the bounding set", NULL);
  }
}

/* A root process keeps exactly the allowed capabilities; setuid to another user has already cleared them. */
static void limit_sets(unsigned long long mask) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) fail("capget", NULL);
  for (int i = 0; i < 2; i++) {
    __u32 part = (__u32)(mask >> (32 * i)) & d[i].permitted;
    d[i].effective = d[i].permitted = d[i].inheritable = part;
  }
  if (syscall(SYS_capset, &h, d) < 0) fail("capset", NULL);
}

int main(int argc, char **argv) {
  const char *root = NULL, *cwd = "/", *cgroup = NULL, *join = NULL, *groups = NULL;
  long uid = -1, gid = -1, seccomp_flags = 0;
  unsigned long long caps = ~0ULL;
  int fresh = 0, nnp = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--new")) { fresh = 1; continue; }
    if (!strcmp(a, "--no-new-privs")) { nnp = 1; continue; }
    if (i + 1 >= argc) usage("an option is missing its value");
    const char *v = argv[++i];
    if (!strcmp(a, "--join")) join = v;
    else if (!strcmp(a, "--root")) root = v;
    else if (!strcmp(a, "--cwd")) cwd = v;
    else if (!strcmp(a, "--cgroup")) cgroup = v;
    else if (!strcmp(a, "--uid")) uid = number(v, "--uid");
    else if (!strcmp(a, "--gid")) gid = number(v, "--gid");
    else if (!strcmp(a, "--groups")) groups = v;
    else if (!strcmp(a, "--caps")) caps = strtoull(v, NULL, 16);
    else if (!strcmp(a, "--seccomp")) read_seccomp(v);
    else if (!strcmp(a, "--mask")) add_path(masks, &n_masks, v);
    else if (!strcmp(a, "--ro")) add_path(readonly, &n_readonly, v);
    else if (!strcmp(a, "--seccomp-flags")) seccomp_flags = number(v, "--seccomp-flags");
    else usage("unknown option");
  }
  if (!root || i >= argc) usage("usage: sandpod-spawn [--new|--join PID] --root DIR [options] -- ARGV...");

  if (cgroup) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroup);
    write_file(path, "0");
  }
  if (fresh) {
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0) fail("cannot create namespaces", NULL);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("cannot make mounts private", NULL);
  } else if (join) {
    enter(join, "pid_for_children", CLONE_NEWPID);
    enter(join, "mnt", CLONE_NEWNS);
  }

  child = fork();
  if (child < 0) fail("fork", NULL);
  if (child == 0) {
    if (fresh) {
      char proc[4096];
      snprintf(proc, sizeof proc, "%s/proc", root);
      if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail("cannot mount", proc);
      hide_and_protect(root);
    }
    if (chroot(root) < 0) fail("chroot", root);
    if (chdir(cwd) < 0) fail("chdir", cwd);
    if (!nnp) load_seccomp((unsigned long)seccomp_flags);
    limit_bounding(caps);
    if (groups) set_groups(groups);
    else if (uid > 0 || gid > 0) { if (setgroups(0, NULL) < 0) fail("setgroups", NULL); }
    if (gid >= 0 && setgid((gid_t)gid) < 0) fail("setgid", NULL);
    if (uid >= 0 && setuid((uid_t)uid) < 0) fail("setuid", NULL);
    if (uid <= 0) limit_sets(caps);
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs", NULL);
    if (nnp) load_seccomp((unsigned long)seccomp_flags);
    execvp(argv[i], argv + i);
    int code = errno == ENOENT ? 127 : 126;
    fprintf(stderr, "sandpod-spawn: cannot run %s: %s\n", argv[i], strerror(errno));
    _exit(code);
  }

  int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM };
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) sigaction(sigs[k], &sa, NULL);
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid", NULL);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  kill(getpid(), sig);
  return 128 + sig;
}

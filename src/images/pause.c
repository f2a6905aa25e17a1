/*
 * The pause process of Sandpod's pod sandbox image: it holds the pod's namespaces open and does nothing else.
 * As PID 1 of the pod it reaps orphaned children (SIGCHLD) and exits 0 on SIGTERM or SIGINT, the signals
 * containerd stops a sandbox with; every other signal stays blocked. Built with `gcc -static` so the image
 * needs no libc.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  sigset_t blocked;
  sigfillset(&blocked);
  sigdelset(&blocked, SIGTERM);
  sigdelset(&blocked, SIGINT);
  sigdelset(&blocked, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &blocked, NULL) != 0) return 1;

  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigemptyset(&on_stop.sa_mask);
  sigemptyset(&on_child.sa_mask);
  if (sigaction(SIGTERM, &on_stop, NULL) != 0 || sigaction(SIGINT, &on_stop, NULL) != 0 ||
      sigaction(SIGCHLD, &on_child, NULL) != 0)
    return 1;

  for (;;) pause();
}

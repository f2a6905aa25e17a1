/*
 * sandpod-reseed: reseeds the guest kernel's random number generator from the bytes on stdin.
 * A VM restored from a template wakes with the template's RNG state; writing to /dev/urandom only mixes
 * bytes in, so every clone would keep producing the same stream until the kernel's next scheduled reseed.
 * RNDADDENTROPY credits the host's bytes and RNDRESEEDCRNG makes the kernel use them now. Node has no
 * ioctl, hence these few lines of C, built by the guest image builder with the host's gcc.
 */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void) {
  struct { int entropy_count; int buf_size; unsigned char buf[512]; } e;
  ssize_t n = read(0, e.buf, sizeof e.buf);
  if (n <= 0) { fputs("sandpod-reseed: no entropy on stdin\n", stderr); return 2; }
  e.entropy_count = (int)n * 8;
  e.buf_size = (int)n;
  int fd = open("/dev/urandom", O_WRONLY);
  if (fd < 0) { perror("sandpod-reseed: /dev/urandom"); return 1; }
  if (ioctl(fd, RNDADDENTROPY, &e) < 0) { perror("sandpod-reseed: RNDADDENTROPY"); return 1; }
  if (ioctl(fd, RNDRESEEDCRNG) < 0) { perror("sandpod-reseed: RNDRESEEDCRNG"); return 1; }
  return 0;
}

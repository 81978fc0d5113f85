/* The floor for `reprise replay`'s lateness: a thread that does nothing but sleep until absolute
 * deadlines every PERIOD (default 50 us, the gap at 20000 req/s) for SECONDS (default 10) with
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), and records how late each wake-up was
 * (now - deadline). Deadlines stay on the absolute grid: a late wake-up does not move the next
 * one. Prints "wakeups p50_ms p99_ms max_ms".
 *   deadline_loop [SECONDS [PERIOD_US]] */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  const int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 10.0;
  const int64_t period = (argc > 2 ? atoll(argv[2]) : 50) * 1000;
  if (seconds <= 0 || period <= 0) {
    fprintf(stderr, "usage: deadline_loop [SECONDS [PERIOD_US]]\n");
    return 2;
  }
  const size_t n = (size_t)(seconds * 1e9 / (double)period);
  int64_t* late = malloc(n * sizeof *late);
  if (late == NULL) return 1;
  const int64_t start = now_ns() + period;
  for (size_t i = 0; i < n; ++i) {
    const int64_t deadline = start + (int64_t)i * period;
    struct timespec t = {deadline / 1000000000, deadline % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0) {
    }
    late[i] = now_ns() - deadline;
  }
  qsort(late, n, sizeof *late, cmp);
  printf("%zu %.3f %.3f %.3f\n", n, late[n / 2] / 1e6, late[(size_t)(n * 0.99)] / 1e6,
         late[n - 1] / 1e6);
  free(late);
  return 0;
}

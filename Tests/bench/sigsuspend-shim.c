// Valgrind dies in libdispatch's _dispatch_sigsuspend, which passes sigsuspend a mask in
// read-only memory. This shim (LD_PRELOAD, for callgrind runs only) copies the mask first.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*real)(const sigset_t *);
    if (!real) real = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return real(&copy);
}

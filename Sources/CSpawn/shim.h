#ifndef CSPAWN_SHIM_H
#define CSPAWN_SHIM_H
// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module is built without; they
// are in glibc since 2.9 (pipe2), 2.12 (pthread_setname_np, pthread_getname_np), 2.30 (gettid)
// and 2.34 (posix_spawn_file_actions_addclosefrom_np).
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/types.h>
extern int pthread_setname_np(pthread_t thread, const char *name);
extern int pthread_getname_np(pthread_t thread, char *name, size_t size);
extern pid_t gettid(void);
extern int pipe2(int pipefd[2], int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
static inline int cspawn_pipe_cloexec(int fds[2]) { return pipe2(fds, 02000000 /* O_CLOEXEC */); }
static inline int cspawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
// The calling thread's kernel id: `setpriority(PRIO_PROCESS, tid)` sets one thread's nice value.
static inline int cspawn_thread_id(void) { return (int)gettid(); }
// The calling thread's name as the kernel shows it (at most 15 bytes kept).
static inline int cspawn_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
static inline int cspawn_thread_name(char *name, size_t size) { return pthread_getname_np(pthread_self(), name, size); }
// The calling thread's scheduling policy: 0 SCHED_OTHER, 1 SCHED_BATCH (3 in the kernel's
// numbering, which glibc names only under _GNU_SOURCE), -1 anything else or an error.
static inline int cspawn_set_thread_policy(int batch) {
    struct sched_param param = {0};
    return sched_setscheduler(0, batch ? 3 : SCHED_OTHER, &param);
}
static inline int cspawn_thread_policy(void) {
    int policy = sched_getscheduler(0);
    return policy == SCHED_OTHER ? 0 : policy == 3 ? 1 : -1;
}
#endif

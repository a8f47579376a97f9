#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int cspawn_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int cspawn_pidfd_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

void cspawn_cloexec_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit limit;
    int max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 1048576)
        max = (int)limit.rlim_cur;
    for (int fd = first; fd < max; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int cspawn_pidfd_getfd(int pidfd, int target) {
    return (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
}

int cspawn_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, 1U /* MFD_CLOEXEC */);
}

int cspawn_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

// Everything below until the exec runs in the child of a multi-threaded process, sharing its memory (as
// posix_spawn's child does): only async-signal-safe calls, no allocation, nothing written but its own stack, the
// request's pid entries (which the parent only frees) and errno.

static void child_fail(int fd, cspawn_stage stage) {
    int report[2] = {(int)stage, errno};
    ssize_t ignored = write(fd, report, sizeof(report));
    (void)ignored;
    _exit(127);
}

static void append_pid(char *entry, pid_t pid) {
    char digits[24];
    int n = 0;
    unsigned long value = (unsigned long)pid;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && n < (int)sizeof(digits));
    char *end = entry + strlen(entry);
    while (n > 0) *end++ = digits[--n];
    *end = '\0';
}

static void close_from(int first, int keep) {
    // Mark everything from `first` close-on-exec (keeps `keep`, the error pipe, usable until exec).
    if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit limit;
    int max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 1048576)
        max = (int)limit.rlim_cur;
    for (int fd = first; fd < max; fd++)
        if (fd != keep) close(fd);
}

static void run_child(const cspawn_request *request, int report_fd) {
    // Default dispositions for every signal, then (last) an empty mask. The raw syscall, because glibc's
    // sigaction refuses the signals it reserves (32, 33), and an ignored disposition survives exec.
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } action = {SIG_DFL, 0, NULL, 0};
    for (int signal_number = 1; signal_number <= 64; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal_number, &action, NULL, sizeof(action.mask));
    }

    if (setpgid(0, 0) != 0) child_fail(report_fd, CSPAWN_STAGE_SETPGID);
    if (request->working_directory && chdir(request->working_directory) != 0)
        child_fail(report_fd, CSPAWN_STAGE_CHDIR);

    // Move every source fd above the target range first, so a source that happens to sit on a target
    // number (say stdout_fd == 3) is not clobbered by an earlier dup2.
    int count = 3 + request->pass_fd_count;
    int moved[3 + 64];
    if (request->pass_fd_count > 64) {
        errno = EMFILE;
        child_fail(report_fd, CSPAWN_STAGE_DUP);
    }
    if (report_fd < count) {
        int high = fcntl(report_fd, F_DUPFD_CLOEXEC, count);
        if (high < 0) _exit(127);
        report_fd = high;
    }
    int sources[3 + 64];
    sources[0] = request->stdin_fd;
    sources[1] = request->stdout_fd;
    sources[2] = request->stderr_fd;
    for (int i = 0; i < request->pass_fd_count; i++) sources[3 + i] = request->pass_fds[i];
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, count);
        if (moved[i] < 0) child_fail(report_fd, CSPAWN_STAGE_DUP);
    }
    for (int i = 0; i < count; i++) {
        if (dup2(moved[i], i) < 0) child_fail(report_fd, CSPAWN_STAGE_DUP);  // dup2 clears FD_CLOEXEC
    }
    close_from(count, report_fd);

    pid_t self = getpid();
    for (int i = 0; i < request->pid_entry_count; i++) append_pid(request->pid_entries[i], self);

    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    execve(request->path, request->argv, request->envp);
    child_fail(report_fd, CSPAWN_STAGE_EXEC);
}

struct child_start {
    const cspawn_request *request;
    int report_fd;
};

static int child_main(void *argument) {
    const struct child_start *start = argument;
    run_child(start->request, start->report_fd);
    return 127;
}

// The child's stack: it runs only run_child (a few hundred bytes of arrays and syscalls, signals blocked).
#define CHILD_STACK_SIZE (256 * 1024)

int cspawn_start(const cspawn_request *request, cspawn_child *child, cspawn_stage *stage, int *error) {
    *stage = CSPAWN_STAGE_NONE;
    *error = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *stage = CSPAWN_STAGE_PIPE;
        *error = errno;
        return -1;
    }

    // CLONE_VM | CLONE_VFORK, as posix_spawn does, rather than fork: fork copies the page tables of the whole
    // supervisor (and then takes a copy-on-write fault for every page it touches next), which is most of what a
    // cold start costs clusterd. The calling thread waits until the child has exec'd or exited; the child has
    // its own stack, file table and signal handlers. Every signal is blocked across it, so the child cannot run
    // one of the parent's handlers before it has reset them.
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *stage = CSPAWN_STAGE_FORK;
        *error = errno;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    struct child_start start = {request, report[1]};
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, CHILD_STACK_SIZE);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        *stage = CSPAWN_STAGE_FORK;
        *error = fork_errno;
        return -1;
    }

    int failure[2];
    ssize_t got;
    do {
        got = read(report[0], failure, sizeof(failure));
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof(failure)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *stage = (cspawn_stage)failure[0];
        *error = failure[1];
        return -1;
    }

    // The exec succeeded. The child cannot be reaped by anyone but us, so its pid is stable here.
    int pidfd = cspawn_pidfd_open(pid);
    if (pidfd < 0) {
        *stage = CSPAWN_STAGE_PIDFD;
        *error = errno;
        kill(-pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return -1;
    }
    child->pid = pid;
    child->pidfd = pidfd;
    return 0;
}

int cspawn_reap(pid_t pid, int pidfd, int *exited, int *code) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    int result;
    do {
        result = pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED)
                            : waitid(P_PID, (id_t)pid, &info, WEXITED);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return -1;
    if (info.si_code == CLD_EXITED) {
        *exited = 1;
        *code = info.si_status;
    } else {
        *exited = 0;
        *code = info.si_status;
    }
    return 0;
}

#ifndef C_SPAWN_H
#define C_SPAWN_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/types.h>

/// One worker to start: what Foundation.Process and posix_spawn cannot express together — an exact fd
/// layout (0-2, then the passed sockets from fd 3), LISTEN_PID equal to the child's own pid, a clean
/// signal mask and default dispositions, and its own process group.
typedef struct {
    /// Absolute path of the program (the caller resolves PATH before forking).
    const char *path;
    /// NULL-terminated.
    char *const *argv;
    /// NULL-terminated. Entries listed in `pid_entries` are completed by the child with its own pid.
    char *const *envp;
    /// Writable entries of `envp` such as "LISTEN_PID=" with room for 20 more bytes; the child appends its
    /// pid (this is how LISTEN_PID and WATCHDOG_PID name the worker itself, as systemd does).
    char *const *pid_entries;
    int pid_entry_count;
    /// NULL keeps clusterd's working directory.
    const char *working_directory;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Become fds 3, 4, ... in the child. Every other fd is closed at exec.
    const int *pass_fds;
    int pass_fd_count;
} cspawn_request;

/// Where in the child a spawn failed.
typedef enum {
    CSPAWN_STAGE_NONE = 0,
    CSPAWN_STAGE_PIPE,
    CSPAWN_STAGE_FORK,
    CSPAWN_STAGE_SETPGID,
    CSPAWN_STAGE_CHDIR,
    CSPAWN_STAGE_DUP,
    CSPAWN_STAGE_EXEC,
    CSPAWN_STAGE_PIDFD,
} cspawn_stage;

typedef struct {
    pid_t pid;
    /// From pidfd_open: readable when the child exits; lets the exit be noticed without SIGCHLD.
    int pidfd;
} cspawn_child;

/// Forks and execs. Returns 0 once the exec has succeeded (the child's exec error, if any, is reported
/// through a close-on-exec pipe, so a missing program fails here, not later). On failure returns -1 with
/// `*stage` and `*error` (an errno) set; a child that failed is already reaped.
int cspawn_start(const cspawn_request *request, cspawn_child *child, cspawn_stage *stage, int *error);

/// Reaps an exited child through its pidfd (or pid). Returns 0 and the wait status parts, or -1 (errno).
/// `*exited` is 1 with `*code` the exit status, or 0 with `*code` the terminating signal.
int cspawn_reap(pid_t pid, int pidfd, int *exited, int *code);

/// A close-on-exec pipe (pipe2 is not visible to Swift through Glibc). 0, or -1 with errno.
int cspawn_pipe(int fds[2]);

/// pidfd_send_signal(2): signals exactly that process, even if its pid was reused meanwhile (then ESRCH).
int cspawn_pidfd_signal(int pidfd, int signal);

/// Marks every fd from `first` up close-on-exec (close_range with CLOSE_RANGE_CLOEXEC, or a loop): before an
/// exec that must pass on only the fds then explicitly made inheritable.
void cspawn_cloexec_from(int first);

/// pidfd_getfd(2): a copy (close-on-exec) of fd `target` of the process behind `pidfd` (root, or same uid and
/// ptrace-able). -1 with errno on failure.
int cspawn_pidfd_getfd(int pidfd, int target);

/// memfd_create(2) with MFD_CLOEXEC: an anonymous file, for handing state over across an exec.
int cspawn_memfd(const char *name);

/// pidfd_open(2); -1 with errno on failure.
int cspawn_pidfd_open(pid_t pid);

#endif
